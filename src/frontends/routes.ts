// The SSE front-ends' routes (docs/front-ends.md): the AI SDK's UI message stream and AG-UI, both
// served from the event log. Same rules as the socket: bearer auth (local and external tokens),
// the Origin allow-list, the same request limits, zod bodies, another user's ids are `not_found`.
import { createHash, randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { z } from 'zod';
import { SpanKind } from '@opentelemetry/api';
import type { Logger } from '../log/logger.js';
import type { RunEvent } from '../protocol/events.js';
import { AppError, badRequest, notFound } from '../protocol/errors.js';
import { agentRequestFrame, type AgentRequestFrame } from '../protocol/frames.js';
import { storable } from '../protocol/text.js';
import type { RunService } from '../runs/service.js';
import type { RateLimiter } from '../limits/rate-limit.js';
import type { Db } from '../store/db.js';
import { readEvents } from '../store/event-log.js';
import { ensureExternalThread, findExternalThread } from '../store/external-threads.js';
import { activeRunsOfThread, type RunRow } from '../store/runs.js';
import { findRequestKey } from '../store/request-keys.js';
import { threadMessages } from '../store/messages.js';
import { ATTR, type Telemetry } from '../telemetry/index.js';
import type { Req, Res } from '../transport/http.js';
import type { RouteHandler, RouteRequest, RouteShape } from '../transport/route.js';
import { AgUiFold, type AgUiEvent, type AgUiMessage } from './ag-ui.js';
import { AiSdkFold } from './ai-sdk.js';
import type { Following, RunFollowers } from './follow.js';
import { SseSink, sseFrame, type FrameEncoder } from './sse.js';

export interface FrontEndDeps {
  db: Db;
  runs: RunService;
  followers: RunFollowers;
  log: Logger;
  telemetry: Telemetry;
  /** The per-user bucket of agent requests the socket's `agent_request` takes from too. */
  requests: RateLimiter;
  allowedOrigins(): readonly string[];
}

/** What routes.ts lends: its wrapper, its bearer check (and HTTP budget), its body parsing. */
export interface RouteKit {
  route(shape: RouteShape, handler: RouteHandler): (res: HttpResponse, req: HttpRequest) => void;
  authed(req: Req): Promise<string>;
  parse<T>(schema: z.ZodType<T>, value: unknown): T;
  json(buf: Buffer): unknown;
  guardAccepting(): void;
  bodyMaxBytes: number;
}

const AI_SDK = 'ai-sdk';
const AG_UI = 'ag-ui';
/** Client strings naming chats, threads and runs: any text the database can store. */
const externalId = storable(z.string().min(1).max(256));

const uiMessage = z.looseObject({
  id: z.string().max(256),
  role: z.enum(['system', 'user', 'assistant']),
  parts: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })).max(1_000),
});
/** What `DefaultChatTransport` sends (plus `agent`, which a transport's `body` may add). */
const chatBody = z.looseObject({
  id: externalId,
  messages: z.array(uiMessage).min(1).max(10_000),
  trigger: z.enum(['submit-message', 'regenerate-message']).default('submit-message'),
  messageId: z.string().max(256).optional(),
  agent: z.string().min(1).max(64).optional(),
});
const streamQuery = z.object({
  runId: z.string().max(128).optional(),
  afterSeq: z.coerce.number().int().min(0).max(2 ** 31 - 1).default(0),
});

const agUiMessage = z.looseObject({ id: z.string().max(256), role: z.string().max(32), content: z.unknown().optional() });
/** AG-UI's RunAgentInput; what agentwire does not use is accepted and ignored (tools, context, state). */
const runAgentInput = z.looseObject({
  threadId: externalId,
  runId: externalId,
  messages: z.array(agUiMessage).max(10_000).default([]),
  forwardedProps: z
    .looseObject({
      agentwire: z
        .strictObject({
          join: z.strictObject({ afterSeq: z.number().int().min(0).max(2 ** 31 - 1) }).optional(),
          cancelOnDisconnect: z.boolean().optional(),
        })
        .optional(),
    })
    .nullish(),
  protocolVersion: z.string().max(32).optional(),
});

/** A request key per client id: hashed, so any client string fits the key's 128 characters. */
const keyOf = (protocol: string, ...parts: string[]) => `${protocol}:${createHash('sha256').update(parts.join('\u0000')).digest('base64url')}`;

/** Text of a message's parts (AI SDK) or content (AG-UI): its text pieces, joined. */
function textOf(parts: ReadonlyArray<{ type: string; text?: string | undefined }>): string {
  return parts
    .filter((p) => p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text)
    .join('\n');
}

function agUiText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return textOf(content.filter((p): p is { type: string; text?: string } => typeof p === 'object' && p !== null && typeof (p as { type?: unknown }).type === 'string'));
  return '';
}

export function registerFrontEnds(app: TemplatedApp, d: FrontEndDeps, kit: RouteKit): void {
  const { route, authed, parse } = kit;
  const t = d.telemetry;
  const streams = t.registry.counter('agentwire_sse_streams_total', 'SSE front-end answers started, by protocol.', ['protocol']);
  const frames = t.registry.counter('agentwire_sse_events_sent_total', 'Stored events handed to SSE front-end answers, by protocol.', ['protocol']);
  t.registry.gauge('agentwire_sse_streams_open', 'SSE front-end answers open on this node.', () => d.followers.count);

  const originAllowed = (origin: string) => {
    if (origin === '') return true;
    const allowed = d.allowedOrigins();
    return allowed.includes('*') || allowed.includes(origin);
  };
  /** Browsers: refused unless the Origin is allowed; allowed ones get CORS headers. */
  const cors = (req: Req): Array<[string, string]> => {
    const origin = req.headers.origin;
    if (!originAllowed(origin)) throw new AppError('forbidden', 'origin not allowed');
    return origin === '' ? [] : [['Access-Control-Allow-Origin', origin], ['Vary', 'Origin']];
  };
  const preflight = route({}, async (req, res) => {
    const headers = cors(req);
    res.send(204, '', 'text/plain', [
      ...headers,
      ['Access-Control-Allow-Methods', 'GET, POST'],
      ['Access-Control-Allow-Headers', 'authorization, content-type'],
      ['Access-Control-Max-Age', '600'],
    ]);
  });
  for (const path of ['/v1/ai-sdk/chat', '/v1/ai-sdk/chat/:chatId/stream', '/v1/ai-sdk/chat/:chatId/stop', '/v1/ag-ui', '/v1/ag-ui/:agent']) app.options(path, preflight);

  /** Whose request it is, within the agent-request budget it shares with the socket. */
  const runRequester = async (req: Req): Promise<string> => {
    const userId = await authed(req);
    kit.guardAccepting();
    const wait = d.requests.take(userId);
    if (wait > 0) throw new AppError('rate_limited', 'too many requests', { retryAfterMs: wait });
    return userId;
  };

  /** The request as the socket's `agent_request`, checked by its schema before anything is stored. */
  const requestFrame = (frame: Omit<AgentRequestFrame, 'type' | 'threadId'>): AgentRequestFrame => parse(agentRequestFrame, { type: 'agent_request', ...frame });

  /** The thread the client's id names (created on first use), then the run on it. */
  const accept = async (userId: string, protocol: string, externalThread: string, f: AgentRequestFrame): Promise<{ runId: string; threadId: string }> => {
    const threadId =
      (await ensureExternalThread(d.db, { userId, protocol, externalId: externalThread, newThreadId: randomUUID(), title: titleOf(f.input.text) })) ??
      (await findExternalThread(d.db, userId, protocol, externalThread));
    if (!threadId) throw new AppError('unavailable', 'the thread could not be created; retry');
    return d.runs.accept(userId, { ...f, threadId });
  };

  /**
   * Streams one run as SSE: `prelude` first, then the run's events after `afterSeq` folded by
   * `encode` (whose fold already holds the events up to `afterSeq`), then the live tail; ends after
   * the terminal event. A disconnect stops delivery; `onDisconnect` says what else it does.
   */
  const stream = (
    protocol: string,
    req: RouteRequest,
    res: Res,
    o: { userId: string; run: { id: string }; afterSeq: number; headers: Array<[string, string]>; encode: FrameEncoder; prelude?: string; onDisconnect?: () => void },
  ): void => {
    const span = t.tracer.startSpan('agentwire.sse.stream', t.tracing ? { kind: SpanKind.SERVER, attributes: { 'http.route': req.path, [ATTR.userId]: o.userId, [ATTR.runId]: o.run.id, 'agentwire.sse.protocol': protocol } } : {});
    const state: { following?: Following; ended: boolean } = { ended: false };
    const raw = res.startStream('text/event-stream', o.headers, () => {
      state.following?.stop();
      if (!state.ended) {
        if (span.isRecording()) span.setAttribute('agentwire.sse.disconnected', true);
        span.end();
        o.onDisconnect?.();
      }
      state.ended = true;
    });
    if (!raw) {
      span.end();
      return;
    }
    const sink = new SseSink(raw, o.encode, { onFrames: () => frames.inc({ protocol }) });
    try {
      streams.inc({ protocol });
      if (o.prelude) sink.write(o.prelude);
      state.following = d.followers.follow(o.userId, o.run.id, o.afterSeq, sink, () => {
        state.ended = true;
        span.end();
        sink.close();
      });
    } catch (err) {
      // The headers are out, so no error answer can follow: end the stream rather than leave the
      // client waiting on an answer that never comes, and let the route wrapper log the cause.
      state.ended = true;
      span.end();
      sink.close();
      throw err;
    }
  };

  /** Feeds a fold the run's events up to `afterSeq` (what the client has), in pages. */
  const foldUpTo = async (runId: string, afterSeq: number, push: (e: RunEvent) => void): Promise<void> => {
    let at = 0;
    while (at < afterSeq) {
      const page = await readEvents(d.db, runId, at, Math.min(500, afterSeq - at));
      if (page.length === 0) break;
      for (const s of page) push(s.event);
      at = page[page.length - 1]!.event.seq;
    }
  };

  // --- The AI SDK's UI message stream ---------------------------------------------------------

  const aiSdkHeaders = (req: Req): Array<[string, string]> => [...cors(req), ['x-vercel-ai-ui-message-stream', 'v1'], ['X-Accel-Buffering', 'no']];

  /** The SSE text of one event: its chunks; the seq as `id:` on the last; `[DONE]` after the end. */
  const aiSdkEncoder = (fold: AiSdkFold): FrameEncoder => (event) => {
    const chunks = fold.push(event);
    let text = '';
    chunks.forEach((c, i) => (text += sseFrame(JSON.stringify(c), i === chunks.length - 1 ? event.seq : undefined)));
    if (fold.ended) text += sseFrame('[DONE]');
    return text;
  };

  const aiSdkStream = async (req: RouteRequest, res: Res, userId: string, run: RunRow | { id: string }, afterSeq: number) => {
    const fold = new AiSdkFold();
    await foldUpTo(run.id, afterSeq, (e) => fold.push(e));
    stream(AI_SDK, req, res, { userId, run, afterSeq, headers: aiSdkHeaders(req), encode: aiSdkEncoder(fold) });
  };

  app.post('/v1/ai-sdk/chat', route({ body: kit.bodyMaxBytes }, async (req, res) => {
    cors(req);
    const userId = await runRequester(req);
    const body = parse(chatBody, kit.json(await req.body()));
    const last = [...body.messages].reverse().find((m) => m.role === 'user');
    if (!last) throw badRequest('messages: there is no user message to answer');
    // The same user message again (a retry) names the same run; a regeneration is a new run.
    const requestId = body.trigger === 'regenerate-message' ? keyOf(AI_SDK, randomUUID()) : keyOf(AI_SDK, body.id, last.id);
    const frame = requestFrame({ requestId, input: { text: textOf(last.parts) }, ...(body.agent ? { agent: body.agent } : {}) });
    const accepted = await accept(userId, AI_SDK, body.id, frame);
    await aiSdkStream(req, res, userId, { id: accepted.runId }, 0);
  }));

  app.get('/v1/ai-sdk/chat/:chatId/stream', route({ params: 1 }, async (req, res) => {
    cors(req);
    const userId = await authed(req);
    const q = parse(streamQuery, Object.fromEntries(req.query));
    const chatId = req.params[0] ?? '';
    const threadId = await findExternalThread(d.db, userId, AI_SDK, chatId);
    let run: RunRow | undefined;
    if (q.runId !== undefined) {
      // A named run (the agentwire transport reconnecting): served to its end, finished or not.
      run = threadId ? await d.runs.ownRun(userId, q.runId) : undefined;
      if (!run || run.thread_id !== threadId) throw notFound('run');
    } else {
      run = threadId ? (await activeRunsOfThread(d.db, threadId))[0] : undefined;
      // Nothing to resume (useChat asks on every mount, for chats it never used too).
      if (!run) return res.send(204, '', 'text/plain', cors(req));
    }
    if (q.afterSeq > run.last_seq) throw badRequest(`afterSeq ${q.afterSeq} is beyond the run's last event (${run.last_seq})`);
    await aiSdkStream(req, res, userId, run, q.afterSeq);
  }));

  app.post('/v1/ai-sdk/chat/:chatId/stop', route({ params: 1 }, async (req, res) => {
    const headers = cors(req);
    const userId = await authed(req);
    const threadId = await findExternalThread(d.db, userId, AI_SDK, req.params[0] ?? '');
    if (!threadId) throw notFound('chat');
    const active = await activeRunsOfThread(d.db, threadId);
    for (const run of active.reverse()) await d.runs.cancel(userId, run.id);
    res.send(200, JSON.stringify({ cancelled: active.map((r) => r.id) }), 'application/json', headers);
  }));

  // --- AG-UI ----------------------------------------------------------------------------------

  const agUiEncoder = (fold: AgUiFold, joined: boolean): FrameEncoder => (event) => {
    let text = '';
    for (const ev of fold.push(event)) {
      // A join already sent its RUN_STARTED; a second one while the run is active is refused by verifyEvents.
      if (joined && ev.type === 'RUN_STARTED') continue;
      text += sseFrame(JSON.stringify(ev), event.seq);
    }
    return text;
  };

  const agUi = route({ params: 1, body: kit.bodyMaxBytes }, async (req, res) => {
    cors(req);
    const agentParam = req.params[0] || undefined;
    const userId = await runRequester(req);
    const input = parse(runAgentInput, kit.json(await req.body()));
    const aw = input.forwardedProps?.agentwire;
    const fold = new AgUiFold({ threadId: input.threadId, runId: input.runId, cancelledOutcome: input.protocolVersion !== undefined });
    const requestId = keyOf(AG_UI, input.threadId, input.runId);
    const headers = cors(req);
    const cancelOnDisconnect = aw?.cancelOnDisconnect === true;
    if (aw?.join) {
      const key = await findRequestKey(d.db, userId, requestId);
      const run = key ? await d.runs.ownRun(userId, key.run_id) : undefined;
      if (!run) throw notFound('run');
      const afterSeq = aw.join.afterSeq;
      if (afterSeq > run.last_seq) throw badRequest(`forwardedProps.agentwire.join.afterSeq ${afterSeq} is beyond the run's last event (${run.last_seq})`);
      await foldUpTo(run.id, afterSeq, (e) => fold.push(e));
      const earlier = await earlierMessages(run);
      const prelude = [fold.runStarted(afterSeq, run.id), fold.snapshotEvent(afterSeq, earlier), ...fold.reopen(afterSeq)];
      stream(AG_UI, req, res, {
        userId,
        run,
        afterSeq,
        headers,
        encode: agUiEncoder(fold, true),
        prelude: prelude.map((e: AgUiEvent) => sseFrame(JSON.stringify(e), afterSeq)).join(''),
        ...(cancelOnDisconnect ? { onDisconnect: () => void d.runs.cancel(userId, run.id).catch((err: unknown) => d.log.warn({ err, runId: run.id }, 'cancel on disconnect failed')) } : {}),
      });
      return;
    }
    const last = [...input.messages].reverse().find((m) => m.role === 'user');
    if (!last) throw badRequest('messages: there is no user message to answer');
    const frame = requestFrame({ requestId, input: { text: agUiText(last.content) }, ...(agentParam ? { agent: agentParam } : {}) });
    const accepted = await accept(userId, AG_UI, input.threadId, frame);
    stream(AG_UI, req, res, {
      userId,
      run: { id: accepted.runId },
      afterSeq: 0,
      headers,
      encode: agUiEncoder(fold, false),
      ...(cancelOnDisconnect ? { onDisconnect: () => void d.runs.cancel(userId, accepted.runId).catch((err: unknown) => d.log.warn({ err, runId: accepted.runId }, 'cancel on disconnect failed')) } : {}),
    });
  });
  app.post('/v1/ag-ui', agUi);
  app.post('/v1/ag-ui/:agent', agUi);

  /** The thread's messages before the joined run's answer: earlier turns and this run's question. */
  const earlierMessages = async (run: RunRow): Promise<AgUiMessage[]> => {
    const rows = await threadMessages(d.db, run.thread_id);
    return rows
      .filter((m) => !(m.role === 'assistant' && m.run_id === run.id))
      .map((m) => (m.role === 'user' ? { id: m.id, role: 'user' as const, content: m.content } : { id: m.id, role: 'assistant' as const, content: m.content }));
  };
}

function titleOf(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 77).replace(/[\uD800-\uDBFF]$/, '')}…` : line;
}
