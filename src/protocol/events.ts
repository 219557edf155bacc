// Server → client run events (PROTOCOL section 4). The same schemas type the server, the tests
// and (later) the client SDK.
import { z } from 'zod';
import { ERROR_CODES, INPUT_KINDS, type TerminalType } from './wire.js';

const envelope = {
  runId: z.string(),
  threadId: z.string(),
  seq: z.number().int().min(1),
  ts: z.string(),
};

/**
 * Additive extension (docs/protocol.md): events a sub-agent produced inside its
 * supervisor's `ask_<agent>` tool call name that sub-agent. Absent on the run's own agent's events.
 */
const bySubAgent = { agent: z.string().optional() };

export const usageSchema = z.object({
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  costUsd: z.number().min(0).optional(),
  /**
   * Additive extension (docs/protocol.md): present and true when some of the counts are
   * estimates (a model call that reported no usage: cut off, or made by an attempt that crashed).
   */
  estimated: z.boolean().optional(),
});

/**
 * What a run waiting for its user asks (`input_requested` without its envelope; `session_ready`
 * lists it for a waiting run). `tool` and `args` name the call an approval is for; `schema` is the
 * JSON Schema an `input`'s value must satisfy.
 */
export const inputRequestSchema = z.object({
  interruptId: z.string(),
  kind: z.enum(INPUT_KINDS),
  prompt: z.string(),
  tool: z.string().optional(),
  args: z.unknown().optional(),
  schema: z.record(z.string(), z.unknown()).optional(),
});
export type InputRequest = z.infer<typeof inputRequestSchema>;

/** The value of an answered `approval`. */
export const approvalValueSchema = z.strictObject({ approved: z.boolean(), reason: z.string().max(2000).optional() });
export type ApprovalValue = z.infer<typeof approvalValueSchema>;

export const runEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('agent_started'), ...envelope, agent: z.string(), input: z.object({ text: z.string() }) }),
  z.object({ type: z.literal('agent_thinking'), ...envelope, text: z.string(), ...bySubAgent }),
  z.object({ type: z.literal('tool_executing'), ...envelope, toolCallId: z.string(), tool: z.string(), args: z.unknown(), ...bySubAgent }),
  z.object({
    type: z.literal('tool_completed'),
    ...envelope,
    toolCallId: z.string(),
    tool: z.string(),
    ok: z.boolean(),
    result: z.unknown().optional(),
    error: z.string().optional(),
    durationMs: z.number().min(0),
    ...bySubAgent,
  }),
  z.object({ type: z.literal('agent_output'), ...envelope, text: z.string() }),
  z.object({ type: z.literal('input_requested'), ...envelope, ...inputRequestSchema.shape }),
  z.object({ type: z.literal('input_received'), ...envelope, interruptId: z.string(), value: z.unknown() }),
  z.object({
    type: z.literal('agent_completed'),
    ...envelope,
    text: z.string(),
    data: z.unknown().optional(),
    usage: usageSchema.optional(),
    durationMs: z.number().min(0),
  }),
  z.object({ type: z.literal('agent_error'), ...envelope, code: z.string(), message: z.string(), retryable: z.boolean() }),
  z.object({ type: z.literal('agent_cancelled'), ...envelope, reason: z.string() }),
]);

export type RunEvent = z.infer<typeof runEventSchema>;
export type RunEventType = RunEvent['type'];
export type RunEventOf<T extends RunEventType> = Extract<RunEvent, { type: T }>;
/** An event before the log gives it its envelope. */
export type RunEventBody = RunEvent extends infer E
  ? E extends RunEvent
    ? Omit<E, 'runId' | 'threadId' | 'seq' | 'ts'>
    : never
  : never;

export { TERMINAL_TYPES, isTerminal, type TerminalType } from './wire.js';

/** `waiting`: the run asked its user (`input_requested`) and holds nothing until the answer is stored. */
export type RunStatus = 'pending' | 'queued' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';
export const ACTIVE_STATUSES: readonly RunStatus[] = ['pending', 'queued', 'running', 'waiting'];

export const statusForTerminal: Record<TerminalType, RunStatus> = {
  agent_completed: 'completed',
  agent_error: 'failed',
  agent_cancelled: 'cancelled',
};

export const runStatusSchema = z.enum(['pending', 'queued', 'running', 'waiting', 'completed', 'failed', 'cancelled']);

/** Other server → client frames. */
export const sessionReadyFrameSchema = z.object({
  type: z.literal('session_ready'),
  sessionId: z.string(),
  userId: z.string(),
  serverTime: z.string(),
  limits: z.object({ maxFrameBytes: z.number().int(), requestsPerMinute: z.number().int() }),
  runs: z.array(
    z.object({
      runId: z.string(),
      threadId: z.string(),
      status: runStatusSchema,
      lastSeq: z.number().int().min(0),
      ackedSeq: z.number().int().min(0),
      /** A `waiting` run's open question, with the `seq` of its `input_requested` (additive). */
      waiting: inputRequestSchema.extend({ seq: z.number().int().min(1) }).optional(),
    }),
  ),
});
export const runAcceptedFrameSchema = z.object({ type: z.literal('run_accepted'), requestId: z.string(), runId: z.string(), threadId: z.string() });
export const errorFrameSchema = z.object({
  type: z.literal('error'),
  code: z.enum(ERROR_CODES),
  message: z.string(),
  requestId: z.string().optional(),
  runId: z.string().optional(),
  retryAfterMs: z.number().int().min(0).optional(),
});
export const pongFrameSchema = z.object({ type: z.literal('pong'), id: z.union([z.string(), z.number()]).optional() });

/** Every frame the server sends on the socket. */
export const serverFrameSchema = z.union([sessionReadyFrameSchema, runAcceptedFrameSchema, errorFrameSchema, pongFrameSchema, runEventSchema]);

export type SessionReadyFrame = z.infer<typeof sessionReadyFrameSchema>;
export type RunAcceptedFrame = z.infer<typeof runAcceptedFrameSchema>;
export type ErrorFrame = z.infer<typeof errorFrameSchema>;
export type PongFrame = z.infer<typeof pongFrameSchema>;
export type ServerFrame = SessionReadyFrame | RunAcceptedFrame | ErrorFrame | PongFrame | RunEvent;
