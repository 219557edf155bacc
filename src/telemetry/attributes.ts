// Span and attribute names, in one place, so dashboards and tests refer to the same strings.
// No attribute carries user text or a secret unless TELEMETRY_RECORD_CONTENT is set.

export const SPAN = {
  upgrade: 'agentwire.ws.upgrade',
  auth: 'agentwire.ws.auth',
  request: 'agentwire.request',
  queueWait: 'agentwire.queue.wait',
  run: 'agentwire.run',
  tool: 'agentwire.tool',
  model: 'agentwire.model',
  deliverFirst: 'agentwire.deliver.first',
  deliverLast: 'agentwire.deliver.last',
} as const;

export const ATTR = {
  userId: 'agentwire.user.id',
  socketId: 'agentwire.socket.id',
  requestId: 'agentwire.request.id',
  runId: 'agentwire.run.id',
  threadId: 'agentwire.thread.id',
  agent: 'agentwire.agent',
  attempt: 'agentwire.run.attempt',
  takeover: 'agentwire.run.takeover',
  outcome: 'agentwire.run.outcome',
  onBusy: 'agentwire.request.on_busy',
  queued: 'agentwire.run.queued',
  authKind: 'agentwire.auth.kind',
  authResult: 'agentwire.auth.result',
  upgradeStatus: 'http.response.status_code',
  seq: 'agentwire.event.seq',
  eventType: 'agentwire.event.type',
  toolName: 'agentwire.tool.name',
  toolCallId: 'agentwire.tool.call_id',
  toolOk: 'agentwire.tool.ok',
  toolReplayed: 'agentwire.tool.replayed',
  /** OpenTelemetry's generative-AI conventions for model calls. */
  modelName: 'gen_ai.request.model',
  modelInputTokens: 'gen_ai.usage.input_tokens',
  modelOutputTokens: 'gen_ai.usage.output_tokens',
  errorCode: 'agentwire.error.code',
  /** Only with TELEMETRY_RECORD_CONTENT=true: the user's question. */
  inputText: 'agentwire.input.text',
} as const;
