// Executes one claimed attempt of a run: gives the agent a context whose calls become stored,
// ordered events, and turns the outcome into exactly one terminal event. An attempt that takes a
// run over replays the agent against the events already stored: steps that match are not stored
// again, and a tool whose result is stored is not called again. An agent that cannot repeat itself
// (a model) asks for the stored steps with `resume()` instead and goes on from them. A sub-agent
// called through `callAgent` runs in the same run, its events tagged with its name.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { AgentRegistry } from '../agents/registry.js';
import {
  AgentFailure,
  NO_SUCH_TOOL,
  ToolError,
  type AgentContext,
  type AskRequest,
  type AgentResult,
  type ChatMessage,
  type PriorStep,
  type TokenUsage,
  type ToolContext,
} from '../agents/types.js';
import type { Logger } from '../log/logger.js';
import type { InputRequest, RunEvent, RunEventBody, RunEventOf } from '../protocol/events.js';
import { DENIED_BY_USER } from '../protocol/wire.js';
import { storableJson, storableText } from '../protocol/text.js';
import type { Db } from '../store/db.js';
import { StaleAttemptError } from '../store/event-log.js';
import { insertMessage } from '../store/messages.js';
import { lockThread, type ThreadLock } from '../store/threads.js';
import { parkRun, type ClaimedRun } from '../store/run-status.js';
import { cancelReason, type RunRow } from '../store/runs.js';
import { retryWhileUnreachable } from '../store/retry.js';
import { context, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { ATTR, SPAN, Telemetry } from '../telemetry/index.js';
import { IllegalEventError, type RunRecorder } from './recorder.js';
import type { Handoff } from './handoff.js';
import { inputSchema } from './waits.js';
import { crashPoint } from './crash-points.js';

export interface ExecutorDeps {
  db: Db;
  agents: AgentRegistry;
  log: Logger;
  /** The embedder's part of each tool call's context (`createServer`'s `toolContext`), merged into the generic one. */
  toolContext?: (base: ToolContext) => object | Promise<object>;
  history(threadId: string, beforeRunId: string): Promise<ChatMessage[]>;
  /**
   * In the terminal event's transaction, which holds the thread's lock: hands the thread to its
   * next waiting run (`committed` once the transaction committed, `abandoned` if it did not).
   */
  afterTerminal(lock: ThreadLock, run: RunRow): Promise<Handoff>;
  toolTimeoutMs: number;
  runTimeoutMs: number;
  /** A run waiting for its user longer than this ends with `agent_error input_timeout` (./waits.ts); unset: no limit. */
  inputTimeoutMs?: number | undefined;
  /** Whether a call of this tool needs its user's approval first (TOOLS_REQUIRING_APPROVAL, `requiresApproval`). */
  requiresApproval?(tool: string): boolean;
  telemetry?: Telemetry;
}

/**
 * `handedOver` and `superseded` store no terminal event: another attempt finishes the run.
 * `parked`: the run asked its user and waits, holding no worker; the answer's attempt continues it.
 */
export type Outcome = 'completed' | 'failed' | 'cancelled' | 'handedOver' | 'superseded' | 'parked';

/** Why an attempt's signal was aborted. */
export class RunAborted extends Error {
  override name = 'RunAborted';
  constructor(
    readonly kind: 'cancel' | 'handover' | 'superseded' | 'timeout' | 'parked',
    message: string,
  ) {
    super(message);
  }
}

class ToolTimeout extends ToolError {}

/** Rolls back a question's transaction: the run could not be parked (a cancel came first, or another attempt holds it). */
class AskRefused extends Error {}

const INTERRUPTED = 'interrupted: the worker running this call stopped';

/** A question the run asked and got its answer to, with nothing stored after the answer: this attempt continues from it. */
interface PendingAnswer {
  question: RunEventOf<'input_requested'>;
  value: unknown;
}

function pendingAnswer(history: readonly RunEvent[]): PendingAnswer | undefined {
  const last = history[history.length - 1];
  if (last?.type !== 'input_received') return undefined;
  const question = history.find((e): e is RunEventOf<'input_requested'> => e.type === 'input_requested' && e.interruptId === last.interruptId);
  return question ? { question, value: last.value } : undefined;
}

/** The run's own agent's steps (sub-agents' events are inside their call's result), tool calls paired with their outcome. */
function priorSteps(history: readonly RunEvent[]): PriorStep[] {
  const steps: PriorStep[] = [];
  // An approved or denied call whose answer is the last thing stored: the agent makes the call now.
  const pending = pendingAnswer(history);
  if (pending?.question.kind === 'approval' && pending.question.tool !== undefined) {
    return [...priorSteps(history.slice(0, -2)), { kind: 'tool', toolCallId: pending.question.interruptId, tool: pending.question.tool, args: pending.question.args ?? null, answered: true }];
  }
  const tools = new Map<string, Extract<PriorStep, { kind: 'tool' }>>();
  for (const e of history) {
    if ('agent' in e && e.type !== 'agent_started' && e.agent !== undefined) continue;
    if (e.type === 'agent_thinking') steps.push({ kind: 'thinking', text: e.text });
    else if (e.type === 'agent_output') steps.push({ kind: 'output', text: e.text });
    else if (e.type === 'tool_executing') {
      const step: Extract<PriorStep, { kind: 'tool' }> = { kind: 'tool', toolCallId: e.toolCallId, tool: e.tool, args: e.args };
      tools.set(e.toolCallId, step);
      steps.push(step);
    } else if (e.type === 'tool_completed') {
      const step = tools.get(e.toolCallId);
      if (step) step.outcome = e.ok ? { ok: true, result: e.result ?? null } : { ok: false, error: e.error ?? 'failed' };
    }
  }
  return steps;
}

const OFF = Telemetry.off();

type Body<T extends RunEventBody['type']> = Extract<RunEventBody, { type: T }>;

export async function executeRun(
  deps: ExecutorDeps,
  run: ClaimedRun,
  recorder: RunRecorder,
  signal: AbortSignal,
  /** The attempt's run span: tool and model spans are its children. */
  traceCtx: Context = context.active(),
): Promise<Outcome> {
  // The run's time limit counts from its first start, across takeovers; time spent waiting for its
  // user does not count: after an answer it counts again from the answer.
  const startedAt = recorder.history[0] ? Date.parse(recorder.history[0].ts) : Date.now();
  const lastAnswer = [...recorder.history].reverse().find((e) => e.type === 'input_received');
  const limitFrom = lastAnswer ? Date.parse(lastAnswer.ts) : startedAt;
  const controller = new AbortController();
  const forward = () => controller.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  const timer = setTimeout(
    () => controller.abort(new RunAborted('timeout', `the run exceeded its time limit of ${deps.runTimeoutMs} ms`)),
    Math.max(0, limitFrom + deps.runTimeoutMs - Date.now()),
  );
  const runSignal = controller.signal;
  if (signal.aborted) forward();

  const terminal = async (body: Body<'agent_completed'> | Body<'agent_error'> | Body<'agent_cancelled'>) => {
    let next: Handoff | undefined;
    try {
      await recorder.append(body, async (tx, store) => {
        next?.abandoned(); // a retried transaction: the earlier one rolled back
        // The thread before the run, as in every transaction that locks both.
        const lock = await lockThread(tx, run.thread_id);
        await store();
        if (body.type === 'agent_completed') {
          await insertMessage(tx, { id: randomUUID(), threadId: run.thread_id, runId: run.id, role: 'assistant', content: body.text });
        }
        next = await deps.afterTerminal(lock, run);
        crashPoint('terminal.before_commit');
      });
    } catch (err) {
      next?.abandoned();
      throw err;
    }
    crashPoint('terminal.after_commit');
    next?.committed();
  };

  try {
    const agent = deps.agents.agent(run.agent);
    if (!recorder.started) await recorder.append({ type: 'agent_started', agent: run.agent, input: run.input });
    if (!agent) {
      await terminal({ type: 'agent_error', code: 'unknown_agent', message: `no agent named ${run.agent}`, retryable: false });
      return 'failed';
    }
    runSignal.throwIfAborted();
    const replay = new Replay(recorder);
    // A new thread's first run (most runs) has no history: its claim said so, no read needed.
    const history = run.only_run ? [] : await retryWhileUnreachable(() => deps.history(run.thread_id, run.id), runSignal);
    const ctx = buildContext(deps, run, recorder, replay, runSignal, history, traceCtx, (reason) => controller.abort(reason));
    const result: AgentResult = await agent.run(ctx);
    runSignal.throwIfAborted();
    await replay.diverge();
    // After a takeover whose agent streamed differently, the answer is what the client was sent.
    const output = recorder.context;
    const text = replay.used && output.outputSeen && output.output !== result.text ? output.output : result.text;
    await terminal({
      type: 'agent_completed',
      text,
      ...(result.data !== undefined ? { data: result.data } : {}),
      ...(result.usage ? { usage: result.usage } : {}),
      durationMs: Date.now() - startedAt,
    });
    return 'completed';
  } catch (err) {
    if (err instanceof StaleAttemptError) return 'superseded';
    if (recorder.finished) return 'completed';
    const reason: unknown = runSignal.aborted ? runSignal.reason : undefined;
    try {
      if (reason instanceof RunAborted) {
        if (reason.kind === 'handover') return 'handedOver';
        if (reason.kind === 'parked') return 'parked';
        if (reason.kind === 'superseded') return 'superseded';
        if (reason.kind === 'cancel') {
          crashPoint('cancel.stopping');
          await terminal({ type: 'agent_cancelled', reason: reason.message });
          return 'cancelled';
        }
        await terminal({ type: 'agent_error', code: 'timeout', message: reason.message, retryable: true });
        return 'failed';
      }
      // A refused event was logged where it was refused (the worker's line names the agent and the event).
      if (!(err instanceof IllegalEventError)) deps.log.warn({ runId: run.id, agent: run.agent, err }, 'run failed');
      await terminal(errorEvent(err));
      return 'failed';
    } catch (inner) {
      if (inner instanceof StaleAttemptError) return 'superseded';
      throw inner;
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', forward);
  }
}

function errorEvent(err: unknown): Body<'agent_error'> {
  if (err instanceof AgentFailure) return { type: 'agent_error', code: err.code, message: err.message, retryable: err.retryable };
  if (err instanceof ToolTimeout) return { type: 'agent_error', code: 'timeout', message: `tool ${err.tool} ${err.message}`, retryable: true };
  if (err instanceof ToolError)
    return { type: 'agent_error', code: 'tool_failed', message: `tool ${err.tool} failed: ${err.message}`, retryable: false };
  // The agent broke the grammar (its answer is not what it streamed, say): its fault, named, not `internal`.
  if (err instanceof IllegalEventError) return { type: 'agent_error', code: 'grammar_violation', message: err.message, retryable: false };
  return { type: 'agent_error', code: 'agent_failed', message: 'the agent failed', retryable: true };
}

/**
 * The events an earlier attempt stored, walked in step with the agent. While the agent repeats
 * them, nothing is stored; at the first difference (or the end) the attempt goes live. A tool call
 * left open by the crash is then closed as interrupted, so the run's grammar holds.
 */
class Replay {
  private i: number;
  private live: boolean;
  private diverged = false;
  used = false;
  /** Calls being continued under their own id (a sub-agent call resumed): never closed as interrupted. */
  readonly keepOpen = new Set<string>();
  /**
   * Runs a tool call the crash left open again, under its own toolCallId (the tool's idempotency
   * key), and stores its outcome; false for a call it does not continue (a sub-agent call).
   */
  finishOpen: ((started: Extract<RunEvent, { type: 'tool_executing' }>) => Promise<boolean>) | undefined;

  constructor(private readonly recorder: RunRecorder) {
    // history[0] is agent_started, which the executor handles.
    this.i = 1;
    this.live = recorder.history.length <= 1;
  }

  private peek(): RunEvent | undefined {
    return this.live ? undefined : this.recorder.history[this.i];
  }

  /** Consumes the next stored event if `match` accepts it. */
  take<T extends RunEvent>(match: (e: RunEvent) => e is T): T | undefined {
    const e = this.peek();
    if (e && match(e)) {
      this.i++;
      this.used = true;
      if (this.i >= this.recorder.history.length) this.live = true;
      return e;
    }
    return undefined;
  }

  /**
   * Consumes stored events up to and including the `tool_completed` of `toolCallId` (a sub-agent's
   * call, whose own events lie in between), if that completion is stored.
   */
  skipPast(toolCallId: string): Extract<RunEvent, { type: 'tool_completed' }> | undefined {
    if (this.live) return undefined;
    const h = this.recorder.history;
    for (let j = this.i; j < h.length; j++) {
      const e = h[j];
      if (e?.type === 'tool_completed' && e.toolCallId === toolCallId) {
        this.i = j + 1;
        this.used = true;
        if (this.i >= h.length) this.live = true;
        return e;
      }
    }
    return undefined;
  }

  /** Replays from just after stored event `index` (a sub-agent call being continued). */
  seekAfter(index: number): void {
    this.i = index + 1;
    this.live = this.i >= this.recorder.history.length;
  }

  /**
   * Goes live. Tool calls the crashed attempt left open (innermost first: a sub-agent's before
   * its own call) are run again under their own toolCallId; a sub-agent call left open is closed
   * as interrupted.
   */
  async diverge(): Promise<void> {
    // Only once: later, open calls are this attempt's own (a sub-agent's call encloses its steps).
    if (this.diverged) return;
    this.diverged = true;
    this.live = true;
    for (const toolCallId of [...this.recorder.context.openToolCalls].reverse()) {
      if (this.keepOpen.has(toolCallId)) continue;
      const started = this.recorder.history.find((e) => e.type === 'tool_executing' && e.toolCallId === toolCallId);
      if (started?.type === 'tool_executing' && this.finishOpen && (await this.finishOpen(started))) continue;
      await this.recorder.append({
        type: 'tool_completed',
        toolCallId,
        tool: started?.type === 'tool_executing' ? started.tool : 'unknown',
        ok: false,
        error: INTERRUPTED,
        durationMs: 0,
        ...(started?.type === 'tool_executing' && started.agent ? { agent: started.agent } : {}),
      });
    }
  }

  get isLive(): boolean {
    return this.live;
  }
}

function buildContext(
  deps: ExecutorDeps,
  run: RunRow,
  recorder: RunRecorder,
  replay: Replay,
  signal: AbortSignal,
  history: ChatMessage[],
  traceCtx: Context,
  /** Stops the attempt (parked: the run waits for its user; or cancelled while it asked). */
  stop: (reason: RunAborted) => void,
): AgentContext {
  const t = deps.telemetry ?? OFF;
  let toolCalls = recorder.history.filter((e) => e.type === 'tool_executing').length;
  let questions = recorder.history.filter((e) => e.type === 'input_requested').length;
  let pending = pendingAnswer(recorder.history);
  /** `by` names the sub-agent an event comes from; undefined for the run's own agent. */
  const tag = (by: string | undefined) => (by === undefined ? {} : { agent: by });
  const sameAgent = (e: RunEvent, by: string | undefined) => ('agent' in e ? e.agent : undefined) === by;

  const text = async (type: 'agent_thinking' | 'agent_output', value: string, by: string | undefined) => {
    signal.throwIfAborted();
    if (value.length === 0) return;
    // Stored events hold storable text (protocol/text.ts): compared as stored.
    if (replay.take((e): e is RunEvent => e.type === type && 'text' in e && e.text === storableText(value) && sameAgent(e, by))) return;
    await replay.diverge();
    await recorder.append(type === 'agent_thinking' ? { type, text: value, ...tag(by) } : { type, text: value });
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
    await replay.diverge();
    const interruptId = `${run.id.slice(0, 8)}-q${++questions}`;
    let cancelled: string | null | undefined;
    // As stored (storable text and JSON), for session_ready.
    const question = storableJson<InputRequest>({ interruptId, ...q }).value;
    const event = await recorder.append(
      { type: 'input_requested', ...question },
      async (tx, store) => {
        cancelled = undefined;
        await store();
        // Still the previous event's seq: the recorder moves on once the transaction committed.
        if (await parkRun(tx, run.id, recorder.attempt, { ...question, seq: recorder.lastSeq + 1 }, deps.inputTimeoutMs)) return;
        // A cancel was stored meanwhile: nothing is parked, the cancel is honoured.
        cancelled = await cancelReason(tx, run.id);
        throw new AskRefused();
      },
    ).catch((err: unknown) => {
      if (err instanceof AskRefused) {
        stop(new RunAborted(cancelled ? 'cancel' : 'superseded', cancelled ?? 'another worker holds this run now'));
        signal.throwIfAborted();
      }
      throw err;
    });
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
    const done = (body: { ok: true; result: unknown } | { ok: false; error: string }) =>
      recorder.append({ type: 'tool_completed', toolCallId, tool: name, ...body, durationMs: Date.now() - started, ...tag(by) });
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
    await replay.diverge();
    const toolCallId = `${run.id.slice(0, 8)}-t${++toolCalls}`;
    await recorder.append({ type: 'tool_executing', toolCallId, tool: name, args: normalised, ...tag(by) });
    return await execute(name, normalised, toolCallId, by, refusal);
  };

  const callAgent = async (name: string, task: string, by: string | undefined): Promise<AgentResult> => {
    signal.throwIfAborted();
    const tool = `ask_${name}`;
    const args = { task };
    const stored = replay.take(
      (e): e is Extract<RunEvent, { type: 'tool_executing' }> =>
        e.type === 'tool_executing' && e.tool === tool && sameAgent(e, by) && isDeepStrictEqual(e.args, storableJson(args).value),
    );
    if (stored) {
      // The sub-agent's answer is stored: reuse it, its steps are not redone.
      const completed = replay.skipPast(stored.toolCallId);
      if (completed) {
        if (completed.ok) return completed.result as AgentResult;
        throw new ToolError(tool, completed.error ?? 'failed');
      }
      // Interrupted inside the sub-agent: the same call goes on, the sub-agent replaying its
      // stored steps, so its own tool calls keep their ids (and their tools' idempotency keys).
      return runSubAgent(name, task, stored.toolCallId, by);
    }
    await replay.diverge();
    const toolCallId = `${run.id.slice(0, 8)}-t${++toolCalls}`;
    await recorder.append({ type: 'tool_executing', toolCallId, tool, args, ...tag(by) });
    return runSubAgent(name, task, toolCallId, by);
  };

  /** Runs sub-agent `name` inside call `toolCallId` (stored) and stores the call's outcome. */
  const runSubAgent = async (name: string, task: string, toolCallId: string, by: string | undefined): Promise<AgentResult> => {
    const tool = `ask_${name}`;
    const started = Date.now();
    replay.keepOpen.add(toolCallId);
    const done = async (body: { ok: true; result: unknown } | { ok: false; error: string }) => {
      replay.keepOpen.delete(toolCallId);
      await recorder.append({ type: 'tool_completed', toolCallId, tool, ...body, durationMs: Date.now() - started, ...tag(by) });
    };
    const sub = deps.agents.agent(name);
    if (!sub) {
      await done({ ok: false, error: `unknown agent ${name}` });
      throw new ToolError(tool, `unknown agent ${name}`);
    }
    let result: AgentResult;
    crashPoint('subagent.call');
    try {
      result = await sub.run(contextFor(name, { text: task }, []));
    } catch (err) {
      if (signal.aborted || err instanceof StaleAttemptError || err instanceof IllegalEventError) throw err;
      const message = err instanceof Error ? err.message : 'failed';
      await done({ ok: false, error: message });
      throw new ToolError(tool, message);
    }
    const answer: AgentResult = {
      text: result.text,
      ...(result.data !== undefined ? { data: result.data } : {}),
      ...(result.usage ? { usage: result.usage } : {}),
    };
    await done({ ok: true, result: answer });
    return answer;
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
      callAgent: (name, task) => handled(callAgent(name, task, by)),
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
    if (by === undefined) await continueSubAgentCall();
    await replay.diverge();
    // A sub-agent always starts afresh (an interrupted sub-agent call is made again).
    return by === undefined ? priorSteps(recorder.history.slice(1)) : [];
  }

  /**
   * A sub-agent call of the run's own agent that the crash interrupted goes on under its own id,
   * the sub-agent replaying its stored steps, before the agent (a model) is asked again: its own
   * tool calls keep their ids, and its answer is the call's result, as if no one had died.
   */
  async function continueSubAgentCall(): Promise<void> {
    const h = recorder.history;
    const open = recorder.context.openToolCalls;
    const at = h.findIndex((e) => e.type === 'tool_executing' && e.agent === undefined && open.includes(e.toolCallId) && subAgentOf(e.tool, e.args) !== undefined);
    const e = h[at];
    if (!e || e.type !== 'tool_executing' || replay.isLive) return;
    replay.seekAfter(at);
    try {
      await runSubAgent(subAgentOf(e.tool, e.args)!, (e.args as { task: string }).task, e.toolCallId, undefined);
    } catch (err) {
      // Its failure is stored as the call's outcome; the agent reads it from the resumed steps.
      if (!(err instanceof ToolError) || signal.aborted) throw err;
    }
  }

  /** The sub-agent an `ask_<name>` call of a registered agent runs, with a task; else undefined. */
  function subAgentOf(tool: string, args: unknown): string | undefined {
    if (!tool.startsWith('ask_') || typeof (args as { task?: unknown } | null)?.task !== 'string') return undefined;
    const name = tool.slice(4);
    return deps.agents.agent(name) ? name : undefined;
  }

  replay.finishOpen = async (started) => {
    if (subAgentOf(started.tool, started.args) !== undefined) return false;
    try {
      await execute(started.tool, started.args, started.toolCallId, started.agent);
    } catch (err) {
      // A failed call's outcome is stored (ok: false); what the agent does with it is its own.
      if (!(err instanceof ToolError) || signal.aborted) throw err;
    }
    return true;
  };

  return contextFor(undefined, run.input, history);
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
    );
  });
}
