// Executes one claimed run: gives the agent a context whose calls become stored, ordered events,
// and turns the outcome into exactly one terminal event.
import { randomUUID } from 'node:crypto';
import type { AgentRegistry } from '../agents/registry.js';
import { ToolError, type AgentContext, type AgentResult, type ChatMessage, type UsageReader } from '../agents/types.js';
import type { Logger } from '../log/logger.js';
import type { RunEvent } from '../protocol/events.js';
import type { Db, Queryable } from '../store/db.js';
import { StaleAttemptError } from '../store/event-log.js';
import { insertMessage, type RunRow } from '../store/runs.js';
import { IllegalEventError, type RunRecorder } from './recorder.js';

export interface ExecutorDeps {
  db: Db;
  agents: AgentRegistry;
  log: Logger;
  usageFor(userId: string): UsageReader;
  history(threadId: string, beforeRunId: string): Promise<ChatMessage[]>;
  /** In the terminal event's transaction: hands the thread to its next waiting run. */
  afterTerminal(tx: Queryable, run: RunRow): Promise<void>;
  toolTimeoutMs: number;
}

export type Outcome = 'completed' | 'failed' | 'cancelled' | 'superseded';

/** Thrown into the agent when the run is aborted; carries the reason for `agent_cancelled`. */
export class RunAborted extends Error {
  override name = 'RunAborted';
}

export async function executeRun(
  deps: ExecutorDeps,
  run: RunRow,
  recorder: RunRecorder,
  signal: AbortSignal,
): Promise<Outcome> {
  const startedAt = Date.now();
  const terminal = (body: Parameters<RunRecorder['append']>[0]) =>
    recorder.append(body, (tx) =>
      (body.type === 'agent_completed'
        ? insertMessage(tx, { id: randomUUID(), threadId: run.thread_id, runId: run.id, role: 'assistant', content: body.text })
        : Promise.resolve()
      ).then(() => deps.afterTerminal(tx, run)),
    );

  try {
    const agent = deps.agents.agent(run.agent);
    if (!recorder.started) await recorder.append({ type: 'agent_started', agent: run.agent, input: run.input });
    if (!agent) {
      await terminal({ type: 'agent_error', code: 'unknown_agent', message: `no agent named ${run.agent}`, retryable: false });
      return 'failed';
    }
    signal.throwIfAborted();
    const ctx = buildContext(deps, run, recorder, signal, await deps.history(run.thread_id, run.id));
    const result: AgentResult = await agent.run(ctx);
    signal.throwIfAborted();
    await terminal({
      type: 'agent_completed',
      text: result.text,
      ...(result.data !== undefined ? { data: result.data } : {}),
      ...(result.usage ? { usage: result.usage } : {}),
      durationMs: Date.now() - startedAt,
    });
    return 'completed';
  } catch (err) {
    if (err instanceof StaleAttemptError) return 'superseded';
    if (recorder.finished) return 'completed';
    try {
      if (signal.aborted) {
        await terminal({ type: 'agent_cancelled', reason: abortReason(signal) });
        return 'cancelled';
      }
      deps.log.warn({ runId: run.id, err: err instanceof Error ? err.message : String(err) }, 'run failed');
      await terminal(errorEvent(err));
      return 'failed';
    } catch (inner) {
      if (inner instanceof StaleAttemptError) return 'superseded';
      throw inner;
    }
  }
}

function errorEvent(err: unknown): Extract<Parameters<RunRecorder['append']>[0], { type: 'agent_error' }> {
  if (err instanceof ToolError)
    return { type: 'agent_error', code: 'tool_failed', message: `tool ${err.tool} failed: ${err.message}`, retryable: false };
  if (err instanceof IllegalEventError)
    return { type: 'agent_error', code: 'internal', message: 'the agent produced an event out of order', retryable: false };
  return { type: 'agent_error', code: 'agent_failed', message: 'the agent failed', retryable: true };
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof RunAborted) return r.message;
  return 'cancelled';
}

function buildContext(
  deps: ExecutorDeps,
  run: RunRow,
  recorder: RunRecorder,
  signal: AbortSignal,
  history: ChatMessage[],
): AgentContext {
  const usage = deps.usageFor(run.user_id);
  let toolCalls = recorder.history.filter((e) => e.type === 'tool_executing').length;
  return {
    runId: run.id,
    threadId: run.thread_id,
    userId: run.user_id,
    agent: run.agent,
    input: run.input,
    history,
    signal,
    now: new Date(),
    async think(text: string) {
      signal.throwIfAborted();
      if (text.length > 0) await recorder.append({ type: 'agent_thinking', text });
    },
    async output(text: string) {
      signal.throwIfAborted();
      if (text.length > 0) await recorder.append({ type: 'agent_output', text });
    },
    async callTool<O>(name: string, args: unknown): Promise<O> {
      signal.throwIfAborted();
      const toolCallId = `${run.id.slice(0, 8)}-t${++toolCalls}`;
      await recorder.append({ type: 'tool_executing', toolCallId, tool: name, args: args ?? null });
      const started = Date.now();
      const done = (body: { ok: true; result: unknown } | { ok: false; error: string }) =>
        recorder.append({ type: 'tool_completed', toolCallId, tool: name, ...body, durationMs: Date.now() - started });
      const tool = deps.agents.tool(name);
      if (!tool) {
        await done({ ok: false, error: `unknown tool ${name}` });
        throw new ToolError(name, 'unknown tool');
      }
      const parsed = tool.input.safeParse(args);
      if (!parsed.success) {
        const message = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ');
        await done({ ok: false, error: `invalid arguments: ${message}` });
        throw new ToolError(name, `invalid arguments: ${message}`);
      }
      const toolSignal = AbortSignal.any([signal, AbortSignal.timeout(deps.toolTimeoutMs)]);
      let result: unknown;
      try {
        result = await tool.execute(parsed.data, { userId: run.user_id, signal: toolSignal, usage, now: new Date() });
      } catch (err) {
        if (signal.aborted) throw err;
        const message = toolSignal.aborted ? `timed out after ${deps.toolTimeoutMs} ms` : err instanceof Error ? err.message : 'failed';
        await done({ ok: false, error: message });
        throw new ToolError(name, message);
      }
      await done({ ok: true, result: result ?? null });
      return result as O;
    },
  };
}

export type { RunEvent };
