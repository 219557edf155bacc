// Deterministic agents that ask their user (ctx.ask, tools that need approval), for the tests of
// durable waits. Only what the agent decides is scripted; the waits are the real runtime's.
import { z } from 'zod';
import { ToolError, type Agent, type Tool } from '../../src/agents/types.js';
import { defineTool } from '../../src/define.js';

export const SEATS_SCHEMA = {
  type: 'object',
  properties: { seats: { type: 'integer', minimum: 1 }, note: { type: 'string' } },
  required: ['seats'],
  additionalProperties: false,
};

/** Thinks, asks how many seats (an `input` with a JSON Schema), answers with the number. */
export const askingAgent: Agent = {
  name: 'asker',
  description: 'Test agent: asks its user for a number of seats.',
  async run(ctx) {
    await ctx.think(`about to ask: ${ctx.input.text}`);
    const { seats } = await ctx.ask<{ seats: number }>({ kind: 'input', prompt: 'How many seats?', schema: SEATS_SCHEMA });
    await ctx.output(`seats: ${seats}`);
    return { text: `seats: ${seats}` };
  },
};

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
export const approvingAgent: Agent = {
  name: 'invoicer',
  description: 'Test agent: sends an invoice once its user approves.',
  tools: ['send_invoice'],
  async run(ctx) {
    await ctx.think('preparing the invoice');
    let text: string;
    try {
      const r = await ctx.callTool<{ amount: number }>('send_invoice', { amount: 42 });
      text = `sent ${r.amount}`;
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      text = `not sent: ${err.message}`;
    }
    await ctx.output(text);
    return { text };
  },
};
