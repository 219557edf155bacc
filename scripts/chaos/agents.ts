// The crash sweep's agents and tool, registered in its processes (./node.ts) beside the analyst.
// - `chaos_effect`: a tool with a side effect outside agentwire's database (CHAOS_EFFECTS_URL): a
//   row in a table of its own, keyed by toolCallId, and every execution logged beside it, so the
//   sweep counts effects and executions.
// - `chaos-script`: a deterministic agent (replayed on takeover) that thinks, calls the tool and
//   streams output in two steps, pausing between them so a cancel or an interrupt lands mid-run.
// - `chaos-sub`: a deterministic sub-agent that calls the tool once.
// - `chaos-asker`: asks its user a question (ctx.ask), then calls `chaos_approved_effect` (the
//   same tool, needing the user's approval): the run waits for a person twice.
// - `chaos-llm`: the LLM agent (createLlmAgent) on the local provider server, with the tool and
//   `chaos-sub` as its sub-agent.
import pg from 'pg';
import { z } from 'zod';
import { createClient, createLlmAgent, openAiStream } from '../../src/agents/llm/index.js';
import { ToolError, type Agent, type Tool } from '../../src/agents/types.js';
import { askSeats, scriptedAgent } from '../../tests/helpers/asking-agents.js';

const effectsUrl = process.env.CHAOS_EFFECTS_URL;
const stepMs = Number(process.env.CHAOS_STEP_MS ?? '60');
let pool: pg.Pool | undefined;

export const effectTool: Tool<{ key: string }, { key: string; done: true }> = {
  name: 'chaos_effect',
  description: 'Performs one side effect named `key` and records it in its own table.',
  input: z.strictObject({ key: z.string().min(1).max(200) }),
  async execute(input, ctx) {
    if (!effectsUrl) throw new Error('CHAOS_EFFECTS_URL is not set');
    pool ??= new pg.Pool({ connectionString: effectsUrl, max: 2 });
    // Every execution is logged; the effect itself is keyed by toolCallId, as docs/embedding.md
    // asks of a tool whose effect must not repeat: a call run again after a death keeps its id.
    await pool.query('INSERT INTO chaos_executions (run_id, tool_call_id, key, pid) VALUES ($1, $2, $3, $4)', [ctx.runId, ctx.toolCallId, input.key, process.pid]);
    await pool.query('INSERT INTO chaos_effects (run_id, tool_call_id, key, pid) VALUES ($1, $2, $3, $4) ON CONFLICT (tool_call_id) DO NOTHING', [ctx.runId, ctx.toolCallId, input.key, process.pid]);
    return { key: input.key, done: true };
  },
};

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason as Error)), { once: true });
  });

export const scriptAgent: Agent = {
  name: 'chaos-script',
  description: 'Crash sweep: two steps of thinking, a side effect and output.',
  tools: ['chaos_effect'],
  async run(ctx) {
    let text = '';
    for (const step of [1, 2]) {
      await ctx.think(`step ${step}: planning`);
      await pause(stepMs, ctx.signal);
      await ctx.callTool('chaos_effect', { key: `${ctx.input.text}#${step}` });
      const piece = step === 1 ? 'first part, ' : 'second part.';
      await ctx.output(piece);
      text += piece;
    }
    return { text };
  },
};

export const subAgent: Agent = scriptedAgent({
  name: 'chaos-sub',
  description: 'Crash sweep sub-agent: one side effect, one answer.',
  tools: ['chaos_effect'],
  thought: () => 'sub-agent working',
  async body(ctx) {
    await ctx.callTool('chaos_effect', { key: `${ctx.input.text}#sub` });
    return 'sub-agent done';
  },
});

/** The sweep's tool, needing its user's approval before each call: the effect happens once approved. */
export const approvedEffectTool: Tool<{ key: string }, { key: string; done: true }> = { ...effectTool, name: 'chaos_approved_effect', requiresApproval: true };

/** What the sweep's clients answer (scripts/chaos/scenario.ts), and the answer the asker then gives. */
export const PERSON = { seats: 3, answer: 'seats: 3, approved' } as const;

export const askerAgent: Agent = scriptedAgent({
  name: 'chaos-asker',
  description: 'Crash sweep: asks its user how many seats, then does a side effect the user must approve.',
  tools: ['chaos_approved_effect'],
  thought: () => 'about to ask',
  async body(ctx) {
    const seats = await askSeats(ctx);
    try {
      await ctx.callTool('chaos_approved_effect', { key: `${ctx.input.text}#${seats}` });
      return `seats: ${seats}, approved`;
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      return `seats: ${seats}, ${err.message}`;
    }
  },
});

export function llmAgent(): Agent | undefined {
  const baseURL = process.env.CHAOS_LLM_URL;
  if (!baseURL) return undefined;
  return createLlmAgent({
    name: 'chaos-llm',
    description: 'Crash sweep LLM agent: calls chaos_effect and chaos-sub as the local model says.',
    stream: openAiStream(createClient({ baseURL, apiKey: 'chaos', maxRetries: 0, timeoutMs: 10_000 })),
    model: 'chaos-model',
    tools: [effectTool as Tool],
    subAgents: [{ name: subAgent.name, description: subAgent.description }],
    maxSteps: 8,
    historyTokens: 2000,
    streamRetries: 1,
    streamIdleMs: 10_000,
    retryBaseMs: 50,
    // Every piece the model streams is its own event: a crash after piece k leaves k stored or in flight.
    coalesce: { maxDelayMs: 0, maxChars: 1 },
  });
}
