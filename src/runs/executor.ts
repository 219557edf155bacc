// The life of one claimed attempt of a run: starts it (`agent_started`, its time limit, its
// history), runs the agent with the context of ./agent-context.ts (which replays what an earlier
// attempt stored, ./replay.ts), and turns the outcome into exactly one terminal event, stored in
// the write that hands the thread to its next run (the scheduler's `endRun`). An attempt
// that is stopped (handed over, superseded, parked) stores no terminal event.
import { randomUUID } from 'node:crypto';
import { context, type Context } from '@opentelemetry/api';
import { AgentFailure, ToolError, type AgentResult } from '../agents/types.js';
import type { RunEventBody } from '../protocol/events.js';
import { StaleAttemptError } from '../store/event-log.js';
import type { ClaimedRun } from '../store/run-status.js';
import { retryWhileUnreachable } from '../store/retry.js';
import { buildContext } from './agent-context.js';
import { RunAborted, ToolTimeout, type ExecutorDeps, type Outcome } from './attempt-types.js';
import { crashPoint } from './crash-points.js';
import type { Handoff } from './handoff.js';
import { IllegalEventError, type RunRecorder } from './recorder.js';

export { RunAborted, type ExecutorDeps, type Outcome } from './attempt-types.js';

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

  // The terminal write: the event, the assistant's message, and the thread's next turn, all or
  // nothing, in one statement when it can (the scheduler's `endRun`).
  const terminal = async (body: Body<'agent_completed'> | Body<'agent_error'> | Body<'agent_cancelled'>) => {
    let next: Handoff | undefined;
    try {
      await recorder.append(body, async (record) => {
        // A write tried again (the database was unreachable) prepares its own hand-over: endRun
        // abandoned the earlier one when it failed.
        next = undefined;
        const answer = body.type === 'agent_completed' ? { messageId: randomUUID(), text: body.text } : undefined;
        next = await deps.turns.endRun(deps.db, { ...record, status: record.finalStatus!, answer }, () => crashPoint('terminal.before_commit'));
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
    // Stored before the agent's code runs (not pipelined with its first steps): a socket that
    // opens from here on finds the run started, listed in its session_ready.
    if (!recorder.started) await recorder.append({ type: 'agent_started', agent: run.agent, input: run.input });
    if (!agent) {
      await terminal({ type: 'agent_error', code: 'unknown_agent', message: `no agent named ${run.agent}`, retryable: false });
      return 'failed';
    }
    runSignal.throwIfAborted();
    // A new thread's first run (most runs) has no history: its claim said so, no read needed.
    const history = run.only_run ? [] : await retryWhileUnreachable(() => deps.history(run.thread_id, run.id), runSignal);
    const { context: ctx, replay, goLive } = buildContext(deps, run, recorder, runSignal, history, traceCtx, (reason) => controller.abort(reason));
    const result: AgentResult = await agent.run(ctx);
    runSignal.throwIfAborted();
    await goLive();
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
