// The context an attempt gives its agent (`AgentContext`): thinking and output, tool calls (checked,
// timed, traced, and asked for approval when they need it), questions to the user (the run parks),
// model calls, and `resume()`. Each call becomes a stored event, or, on a takeover, is matched
// against the events already stored (./replay.ts) and not stored or called again. Sub-agent calls
// are ./sub-agents.ts.
import { isDeepStrictEqual } from 'node:util';
import { context, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { AgentFailure, NO_SUCH_TOOL, ToolError, type AgentContext, type AskRequest, type ChatMessage, type PriorStep, type TokenUsage, type ToolContext } from '../agents/types.js';
import type { InputRequest, RunEvent, RunEventOf } from '../protocol/events.js';
import { DENIED_BY_USER } from '../protocol/wire.js';
import { storableJson, storableText } from '../protocol/text.js';
import { parkRun } from '../store/run-status.js';
import { cancelReason, type RunRow } from '../store/runs.js';
import { lockThread } from '../store/threads.js';
import { ATTR, SPAN, Telemetry } from '../telemetry/index.js';
import { RunAborted, ToolTimeout, type ExecutorDeps } from './attempt-types.js';
import { crashPoint } from './crash-points.js';
import { inTransaction, type RunRecorder } from './recorder.js';
import { INTERRUPTED, pendingAnswer, priorSteps, Replay } from './replay.js';
import { subAgentCalls } from './sub-agents.js';
import { inputSchema } from './waits.js';

const OFF = Telemetry.off();

/** Rolls back a question's transaction: the run could not be parked (a cancel came first, or another attempt holds it). */
class AskRefused extends Error {}

/** What the attempt keeps of the context it gave its agent. */
export interface AttemptContext {
  /** The run's own agent's context. */
  context: AgentContext;
  /** Stored steps the agent repeated. */
  replay: Replay;
  /** Ends the replay (when the agent returned): calls the crash left open are made again or closed. */
  goLive(): Promise<void>;
}

/**
 * The context of one attempt's agent: every call becomes a stored event, replayed instead when an
 * earlier attempt stored it. `stop` stops the attempt (parked: the run waits for its user; or
 * cancelled while it asked).
 */
export function buildContext(
  deps: ExecutorDeps,
  run: RunRow,
  recorder: RunRecorder,
  signal: AbortSignal,
  history: ChatMessage[],
  traceCtx: Context,
  stop: (reason: RunAborted) => void,
): AttemptContext {
  const t = deps.telemetry ?? OFF;
  const replay = new Replay(recorder.history);
  let toolCalls = recorder.history.filter((e) => e.type === 'tool_executing').length;
  const nextToolCallId = () => `${run.id.slice(0, 8)}-t${++toolCalls}`;
  let questions = recorder.history.filter((e) => e.type === 'input_requested').length;
  let pending = pendingAnswer(recorder.history);
  /** `by` names the sub-agent an event comes from; undefined for the run's own agent. */
  const tag = (by: string | undefined) => (by === undefined ? {} : { agent: by });
  const sameAgent = (e: RunEvent, by: string | undefined) => ('agent' in e ? e.agent : undefined) === by;

  /**
   * Goes live (once): tool calls the crashed attempt left open (innermost first) are made again
   * under their own toolCallId; a sub-agent call left open is closed as interrupted.
   */
  const goLive = async (): Promise<void> => {
    for (const a of replay.diverge(recorder.context.openToolCalls, (s) => subAgents.subAgentOf(s.tool, s.args) !== undefined)) {
      if (a.action === 'rerun') {
        try {
          await execute(a.started.tool, a.started.args, a.started.toolCallId, a.started.agent);
        } catch (err) {
          // A failed call's outcome is stored (ok: false); what the agent does with it is its own.
          if (!(err instanceof ToolError) || signal.aborted) throw err;
        }
      } else {
        await recorder.record({ type: 'tool_completed', toolCallId: a.toolCallId, tool: a.tool, ok: false, error: INTERRUPTED, durationMs: 0, ...tag(a.agent) });
      }
    }
  };

  const text = async (type: 'agent_thinking' | 'agent_output', value: string, by: string | undefined) => {
    signal.throwIfAborted();
    if (value.length === 0) return;
    // Stored events hold storable text (protocol/text.ts): compared as stored.
    if (replay.take((e): e is RunEvent => e.type === type && 'text' in e && e.text === storableText(value) && sameAgent(e, by))) return;
    await goLive();
    // Accepted now, stored with what follows it: the agent goes on without waiting for the write.
    await recorder.record(type === 'agent_thinking' ? { type, text: value, ...tag(by) } : { type, text: value });
  };

  /** Whether a stored question is the one being asked (as stored: storable text and JSON). */
  const sameQuestion = (e: RunEventOf<'input_requested'>, q: Omit<InputRequest, 'interruptId'>) =>
    e.kind === q.kind &&
    e.prompt === storableText(q.prompt) &&
    e.tool === q.tool &&
    isDeepStrictEqual(e.args, q.args === undefined ? undefined : storableJson(q.args).value) &&
    isDeepStrictEqual(e.schema, q.schema);

  /**
   * Asks the run's user. On a replay the stored answer is returned; otherwise `input_requested` is
   * stored in the transaction that parks the run (no lease, nothing in memory), and the attempt
   * stops: the answer's attempt replays the run to here and gets the answer.
   */
  const ask = async (q: Omit<InputRequest, 'interruptId'>, by: string | undefined): Promise<unknown> => {
    signal.throwIfAborted();
    // A sub-agent's steps are redone when its call is taken up again, so its question could never be answered.
    if (by !== undefined) throw new AgentFailure('ask_unsupported', `sub-agent ${by} cannot ask the user (only the run's own agent can)`, false);
    const stored = replay.take((e): e is RunEventOf<'input_requested'> => e.type === 'input_requested' && sameAgent(e, by) && sameQuestion(e, q));
    if (stored) {
      const answered = replay.take((e): e is RunEventOf<'input_received'> => e.type === 'input_received' && e.interruptId === stored.interruptId);
      if (pending?.question.interruptId === stored.interruptId) pending = undefined;
      if (answered) return answered.value;
      throw new Error(`run ${run.id}: question ${stored.interruptId} is stored unanswered, yet the run was claimed`);
    }
    if (pending && sameQuestion(pending.question, q)) {
      // Asked by the attempt that parked, answered since: an agent that went live with resume() gets it here.
      const { value } = pending;
      pending = undefined;
      return value;
    }
    await goLive();
    const interruptId = `${run.id.slice(0, 8)}-q${++questions}`;
    let cancelled: string | null | undefined;
    // As stored (storable text and JSON), for session_ready.
    const question = storableJson<InputRequest>({ interruptId, ...q }).value;
    const event = await recorder.append(
      { type: 'input_requested', ...question },
      inTransaction(deps.db, async (tx, store) => {
        cancelled = undefined;
        // The thread before the run, as in every transaction that locks both. This one does: the
        // run's row is updated twice (the append, then the park), and PostgreSQL checks the second
        // update's foreign keys (a row version of this transaction), which takes a share lock on
        // the thread. Without the thread first, an answer holding the thread and waiting for the
        // run deadlocked with it (found by the crash sweep).
        await lockThread(tx, run.thread_id);
        await store();
        // Still the previous event's seq: the recorder moves on once the transaction committed.
        if (await parkRun(tx, run.id, recorder.attempt, { ...question, seq: recorder.lastSeq + 1 }, deps.inputTimeoutMs)) return;
        // A cancel was stored meanwhile: nothing is parked, the cancel is honoured.
        cancelled = await cancelReason(tx, run.id);
        throw new AskRefused();
      }),
    ).catch((err: unknown) => {
      if (err instanceof AskRefused) {
        stop(new RunAborted(cancelled ? 'cancel' : 'superseded', cancelled ?? 'another worker holds this run now'));
        signal.throwIfAborted();
      }
      throw err;
    });
    crashPoint('wait.parked');
    deps.log.info({ runId: run.id, interruptId: (event as RunEventOf<'input_requested'>).interruptId, kind: q.kind }, 'run waits for its user');
    stop(new RunAborted('parked', 'the run waits for its user'));
    signal.throwIfAborted();
    throw new Error('unreachable: the attempt was stopped');
  };

  const askAgent = async (q: AskRequest, by: string | undefined): Promise<unknown> => {
    if (q.kind !== 'approval' && q.kind !== 'input') throw new AgentFailure('invalid_question', 'ctx.ask: kind must be "approval" or "input"', false);
    if (typeof q.prompt !== 'string' || q.prompt.trim() === '') throw new AgentFailure('invalid_question', 'ctx.ask: prompt must be a non-empty string', false);
    const schema = q.kind === 'input' ? q.schema : undefined;
    if (schema !== undefined) {
      try {
        inputSchema(schema);
      } catch (err) {
        throw new AgentFailure('invalid_question', `ctx.ask: schema is not a JSON Schema the server can check (${err instanceof Error ? err.message : String(err)})`, false, { cause: err });
      }
    }
    return ask({ kind: q.kind, prompt: q.prompt, ...(schema !== undefined ? { schema } : {}) }, by);
  };

  const execute = async (name: string, args: unknown, toolCallId: string, by: string | undefined, refusal?: string): Promise<unknown> => {
    const started = Date.now();
    // The outcome is accepted, not awaited: a crash before it is stored makes the call again, as a
    // crash right after the tool returned always did (its tool_executing is stored).
    const done = (body: { ok: true; result: unknown } | { ok: false; error: string }) =>
      recorder.record({ type: 'tool_completed', toolCallId, tool: name, ...body, durationMs: Date.now() - started, ...tag(by) });
    // Its user said no (or could not be asked): nothing runs, and the agent goes on with the refusal.
    if (refusal !== undefined) {
      await done({ ok: false, error: refusal });
      throw new ToolError(name, refusal);
    }
    // A tool the calling agent was not given is refused like one nobody registered: nothing runs.
    const allowed = deps.agents.agent(by ?? run.agent)?.tools;
    const tool = allowed === undefined || allowed.includes(name) ? deps.agents.tool(name) : undefined;
    if (!tool) {
      await done({ ok: false, error: NO_SUCH_TOOL });
      throw new ToolError(name, NO_SUCH_TOOL);
    }
    const parsed = tool.input.safeParse(args);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
      await done({ ok: false, error: `invalid arguments: ${message}` });
      throw new ToolError(name, `invalid arguments: ${message}`);
    }
    const limitMs = tool.timeoutMs ?? deps.toolTimeoutMs;
    const timeout = AbortSignal.timeout(limitMs);
    const toolSignal = AbortSignal.any([signal, timeout]);
    const span = t.tracer.startSpan(
      SPAN.tool,
      t.tracing ? { attributes: { [ATTR.toolName]: name, [ATTR.toolCallId]: toolCallId, [ATTR.runId]: run.id } } : {},
      traceCtx,
    );
    const base: ToolContext = {
      userId: run.user_id,
      runId: run.id,
      threadId: run.thread_id,
      agent: by ?? run.agent,
      toolCallId,
      signal: toolSignal,
      now: new Date(),
      log: deps.log.child({ runId: run.id, tool: name, toolCallId }),
    };
    let result: unknown;
    crashPoint('tool.before');
    try {
      result = await context.with(trace.setSpan(traceCtx, span), () => raceAbort(callWithContext(tool, parsed.data, base, deps), toolSignal));
      span.setAttribute(ATTR.toolOk, true);
    } catch (err) {
      span.setAttribute(ATTR.toolOk, false);
      span.setStatus({ code: SpanStatusCode.ERROR, message: timeout.aborted ? 'timeout' : signal.aborted ? 'aborted' : 'failed' });
      if (signal.aborted) throw err;
      if (timeout.aborted) {
        const message = `timed out after ${limitMs} ms`;
        await done({ ok: false, error: message });
        throw new ToolTimeout(name, message);
      }
      const message = err instanceof Error ? err.message : 'failed';
      await done({ ok: false, error: message });
      throw new ToolError(name, message);
    } finally {
      span.end();
    }
    crashPoint('tool.after');
    await done({ ok: true, result: result ?? null });
    return result;
  };

  const callTool = async (name: string, args: unknown, by: string | undefined): Promise<unknown> => {
    signal.throwIfAborted();
    const normalised = args ?? null;
    // Asked before the call's tool_executing, so no call is open while the run waits.
    let refusal: string | undefined;
    if (deps.requiresApproval?.(name)) {
      if (by !== undefined) refusal = `approval required: sub-agent ${by} cannot ask the user`;
      else {
        const answer = (await ask({ kind: 'approval', prompt: `Allow ${name} to run with these arguments?`, tool: name, args: normalised }, by)) as { approved?: unknown };
        if (answer.approved !== true) refusal = DENIED_BY_USER;
      }
    }
    const stored = replay.take(
      (e): e is Extract<RunEvent, { type: 'tool_executing' }> =>
        e.type === 'tool_executing' && e.tool === name && sameAgent(e, by) && isDeepStrictEqual(e.args, JSON.parse(storableJson(normalised).json)),
    );
    if (stored) {
      const completed = replay.take(
        (e): e is Extract<RunEvent, { type: 'tool_completed' }> => e.type === 'tool_completed' && e.toolCallId === stored.toolCallId,
      );
      // Stored result: reuse it, never call the tool again.
      if (completed) {
        if (completed.ok) return completed.result;
        throw new ToolError(name, completed.error ?? 'failed');
      }
      // The crash came during this call: its result was never stored, so call it now.
      if (replay.isLive) return await execute(name, normalised, stored.toolCallId, by, refusal);
    }
    await goLive();
    const toolCallId = nextToolCallId();
    // Stored (with the thoughts before it, in one write) before the tool runs: a takeover must know
    // the call was made, or it would make it a second time.
    await recorder.append({ type: 'tool_executing', toolCallId, tool: name, args: normalised, ...tag(by) });
    return await execute(name, normalised, toolCallId, by, refusal);
  };

  /**
   * An agent that forgets an `await` (or calls its context after returning) must not take the
   * process down with an unhandled rejection: each call's promise is marked handled, and still
   * rejects for a caller that awaits it. A call after the run's end is refused by the grammar and
   * logged where it is refused, naming the agent and the event.
   */
  const handled = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => undefined);
    return p;
  };

  /** The context of the run's own agent (`by` undefined) or of a sub-agent it called. */
  function contextFor(by: string | undefined, input: { text: string }, past: readonly ChatMessage[]): AgentContext {
    return {
      runId: run.id,
      threadId: run.thread_id,
      userId: run.user_id,
      agent: by ?? run.agent,
      input,
      history: past,
      signal,
      now: new Date(),
      think: (value) => handled(text('agent_thinking', value, by)),
      // A sub-agent's answer is its caller's material, not the run's answer: it streams as thinking.
      output: (value) => handled(text(by === undefined ? 'agent_output' : 'agent_thinking', value, by)),
      modelCall: <T>(model: string, call: (signal: AbortSignal) => Promise<T>, readUsage?: (result: T) => TokenUsage | undefined) => handled(modelCall(model, call, readUsage)),
      callTool: <O>(name: string, args: unknown) => handled(callTool(name, args, by) as Promise<O>),
      callAgent: (name, task) => handled(subAgents.callAgent(name, task, by)),
      resume: () => handled(resume(by)),
      ask: ((q: AskRequest) => handled(askAgent(q, by))) as AgentContext['ask'],
    };
  }

  async function modelCall<T>(model: string, call: (signal: AbortSignal) => Promise<T>, readUsage?: (result: T) => TokenUsage | undefined): Promise<T> {
    signal.throwIfAborted();
    const span = t.tracer.startSpan(SPAN.model, t.tracing ? { attributes: { [ATTR.modelName]: model, [ATTR.runId]: run.id } } : {}, traceCtx);
    try {
      const result = await call(signal);
      const u = span.isRecording() ? readUsage?.(result) : undefined;
      if (u) span.setAttributes({ [ATTR.modelInputTokens]: u.inputTokens, [ATTR.modelOutputTokens]: u.outputTokens });
      return result;
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: signal.aborted ? 'aborted' : 'failed' });
      throw err;
    } finally {
      span.end();
    }
  }

  async function resume(by: string | undefined): Promise<readonly PriorStep[]> {
    signal.throwIfAborted();
    if (by === undefined) await subAgents.continueOpenCall();
    await goLive();
    // A sub-agent always starts afresh (an interrupted sub-agent call is made again).
    return by === undefined ? priorSteps(recorder.history.slice(1)) : [];
  }

  const subAgents = subAgentCalls({ deps, recorder, replay, signal, goLive, nextToolCallId, tag, sameAgent, contextFor });
  return { context: contextFor(undefined, run.input, history), replay, goLive };
}

/** The embedder's fields first, the runtime's over them: `userId`, `signal`… are always the runtime's. */
async function callWithContext(tool: { execute(input: unknown, ctx: ToolContext): Promise<unknown> }, input: unknown, base: ToolContext, deps: ExecutorDeps): Promise<unknown> {
  let extra: object = {};
  if (deps.toolContext) {
    try {
      extra = await deps.toolContext(base);
    } catch (err) {
      base.log.error({ err }, 'the tool context factory failed');
      throw new Error('the tool context could not be made', { cause: err });
    }
  }
  return tool.execute(input, { ...extra, ...base });
}

/** Settles with `signal` even if the tool ignores it, so a hung tool cannot hold a run past its limits. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );  });
}
