// Sub-agents: a run's agent calling another registered agent (`ctx.callAgent(name, task)`) as a
// tool call `ask_<name>`, in the same run, the sub-agent's events tagged with its name. On a
// takeover a stored answer is reused; a call the crash interrupted goes on under its own id, the
// sub-agent replaying its stored steps, so its own tool calls keep their ids.
import { isDeepStrictEqual } from 'node:util';
import { ToolError, type AgentContext, type AgentResult, type ChatMessage } from '../agents/types.js';
import type { RunEvent } from '../protocol/events.js';
import { storableJson } from '../protocol/text.js';
import { StaleAttemptError } from '../store/event-log.js';
import type { ExecutorDeps } from './attempt-types.js';
import { crashPoint } from './crash-points.js';
import { IllegalEventError, type RunRecorder } from './recorder.js';
import type { Replay } from './replay.js';

/** What sub-agent calls share with the rest of the attempt's context (./agent-context.ts). */
export interface SubAgentScope {
  deps: ExecutorDeps;
  recorder: RunRecorder;
  replay: Replay;
  signal: AbortSignal;
  /** Ends the replay: the agent did something not stored. */
  goLive(): Promise<void>;
  nextToolCallId(): string;
  /** `{ agent: by }` for a sub-agent's events, nothing for the run's own agent's. */
  tag(by: string | undefined): { agent?: string };
  sameAgent(e: RunEvent, by: string | undefined): boolean;
  /** The context a (sub-)agent runs with. */
  contextFor(by: string | undefined, input: { text: string }, past: readonly ChatMessage[]): AgentContext;
}

export interface SubAgentCalls {
  /** `ctx.callAgent` of agent `by` (undefined: the run's own). */
  callAgent(name: string, task: string, by: string | undefined): Promise<AgentResult>;
  /**
   * A sub-agent call of the run's own agent that the crash interrupted goes on under its own id,
   * the sub-agent replaying its stored steps, before the agent (a model) is asked again: its own
   * tool calls keep their ids, and its answer is the call's result, as if no one had died.
   */
  continueOpenCall(): Promise<void>;
  /** The sub-agent an `ask_<name>` call of a registered agent runs, with a task; else undefined. */
  subAgentOf(tool: string, args: unknown): string | undefined;
}

export function subAgentCalls(s: SubAgentScope): SubAgentCalls {
  const { deps, recorder, replay, signal, goLive, nextToolCallId, tag, sameAgent, contextFor } = s;

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
    await goLive();
    const toolCallId = nextToolCallId();
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
      // Accepted, stored with what follows (see agent-context's tool calls).
      await recorder.record({ type: 'tool_completed', toolCallId, tool, ...body, durationMs: Date.now() - started, ...tag(by) });
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


  async function continueOpenCall(): Promise<void> {
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

  function subAgentOf(tool: string, args: unknown): string | undefined {
    if (!tool.startsWith('ask_') || typeof (args as { task?: unknown } | null)?.task !== 'string') return undefined;
    const name = tool.slice(4);
    return deps.agents.agent(name) ? name : undefined;
  }

  return { callAgent, continueOpenCall, subAgentOf };
}
