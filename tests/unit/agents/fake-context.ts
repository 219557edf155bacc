// A test double of the runtime: records think/callTool calls, refuses a tool the agent was not
// given (as the executor does), validates tool args with the tool's schema and runs the tool
// against in-memory usage records.
import type { AgentContext, ChatMessage } from '../../../src/agents/types.js';
import type { AnalystToolContext, UsageRecord } from '../../../src/usage/types.js';
import { createLogger } from '../../../src/log/logger.js';
import { NO_SUCH_TOOL, ToolError } from '../../../src/agents/types.js';
import { analystTools } from '../../../src/agents/analyst/index.js';

export type Step = { kind: 'think'; text: string } | { kind: 'tool'; name: string; args: unknown; result?: unknown } | { kind: 'output'; text: string };

export function memoryUsage(records: readonly UsageRecord[]) {
  return {
    async list(range?: { from?: string; to?: string }) {
      return records.filter((r) => (!range?.from || r.day >= range.from) && (!range?.to || r.day <= range.to));
    },
  };
}

export const NOW = new Date('2026-11-26T12:00:00Z');

export function toolContext(records: readonly UsageRecord[], signal = new AbortController().signal): AnalystToolContext {
  return { userId: 'u1', runId: 'r1', threadId: 't1', agent: 'analyst', toolCallId: 'c1', signal, usage: memoryUsage(records), now: NOW, log: createLogger('silent') };
}

export function fakeContext(
  text: string,
  records: readonly UsageRecord[],
  opts: {
    history?: ChatMessage[];
    controller?: AbortController;
    onStep?: (s: Step, steps: Step[]) => void;
    /** The agent's `tools`: any other name is refused. Unset: every analyst tool. */
    tools?: readonly string[];
  } = {},
): AgentContext & { steps: Step[] } {
  const controller = opts.controller ?? new AbortController();
  const steps: Step[] = [];
  const record = (s: Step) => {
    steps.push(s);
    opts.onStep?.(s, steps);
  };
  return {
    steps,
    runId: 'r1',
    threadId: 't1',
    userId: 'u1',
    agent: 'analyst',
    input: { text },
    history: opts.history ?? [],
    signal: controller.signal,
    now: NOW,
    async think(t) {
      record({ kind: 'think', text: t });
    },
    async output(t) {
      record({ kind: 'output', text: t });
    },
    async callAgent(name) {
      throw new ToolError(`ask_${name}`, 'no sub-agents in this double');
    },
    async resume() {
      return [];
    },
    ask: (() => Promise.reject(new Error('no user to ask in this double'))) as AgentContext['ask'],
    async callTool<O>(name: string, args: unknown): Promise<O> {
      const step: Step = { kind: 'tool', name, args };
      record(step);
      const tool = !opts.tools || opts.tools.includes(name) ? analystTools.find((t) => t.name === name) : undefined;
      if (!tool) throw new ToolError(name, NO_SUCH_TOOL);
      const parsed = tool.input.safeParse(args);
      if (!parsed.success) throw new ToolError(name, parsed.error.message);
      const result = await tool.execute(parsed.data, toolContext(records, controller.signal));
      step.result = result;
      return result as O;
    },
    modelCall: (_model, call) => call(controller.signal),
  };
}
