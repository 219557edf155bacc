// Deterministic agents that ask their user (ctx.ask, tools that need approval), for the tests of
// durable waits. Only what the agent decides is scripted; the waits are the real runtime's.
import { z } from 'zod';
import { ToolError, type Agent, type AgentContext, type Tool } from '../../src/agents/types.js';
import { defineTool } from '../../src/define.js';

export const SEATS_SCHEMA = {
  type: 'object',
  properties: { seats: { type: 'integer', minimum: 1 }, note: { type: 'string' } },
  required: ['seats'],
  additionalProperties: false,
};

/**
 * An agent whose run is one thought, then `body` (which may ask, call tools, stream), then its
 * answer streamed as one piece and returned: the shape of every scripted agent here and in the
 * crash sweep (scripts/chaos/agents.ts).
 */
export function scriptedAgent(a: { name: string; description: string; tools?: string[]; thought: (ctx: AgentContext) => string; body: (ctx: AgentContext) => Promise<string> }): Agent {
  return {
    name: a.name,
    description: a.description,
    ...(a.tools ? { tools: a.tools } : {}),
    async run(ctx) {
      await ctx.think(a.thought(ctx));
      const text = await a.body(ctx);
      await ctx.output(text);
      return { text };
    },
  };
}

/** Asks how many seats (an `input` with a JSON Schema); the answer's number. */
export const askSeats = async (ctx: AgentContext): Promise<number> =>
  (await ctx.ask<{ seats: number }>({ kind: 'input', prompt: 'How many seats?', schema: SEATS_SCHEMA })).seats;

/** Thinks, asks how many seats, answers with the number. */
export const askingAgent: Agent = scriptedAgent({
  name: 'asker',
  description: 'Test agent: asks its user for a number of seats.',
  thought: (ctx) => `about to ask: ${ctx.input.text}`,
  body: async (ctx) => `seats: ${await askSeats(ctx)}`,
});

/** Counts real executions, so a test can see that a denied call never ran. */
export const invoiceCalls = { count: 0 };

export const sendInvoice: Tool = defineTool({
  name: 'send_invoice',
  description: 'Test tool: sends an invoice (needs the user’s approval).',
  input: z.object({ amount: z.number() }),
  requiresApproval: true,
  execute: async ({ amount }) => {
    invoiceCalls.count++;
    return { sent: true, amount };
  },
});

/** Calls `send_invoice` (which needs approval) and goes on whatever the answer. */
export const approvingAgent: Agent = scriptedAgent({
  name: 'invoicer',
  description: 'Test agent: sends an invoice once its user approves.',
  tools: ['send_invoice'],
  thought: () => 'preparing the invoice',
  async body(ctx) {
    try {
      const r = await ctx.callTool<{ amount: number }>('send_invoice', { amount: 42 });
      return `sent ${r.amount}`;
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      return `not sent: ${err.message}`;
    }
  },
});
