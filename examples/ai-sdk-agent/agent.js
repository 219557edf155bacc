// @ts-check
// An agent written with the Vercel AI SDK: `aiSdkAgent` runs `streamText` inside an agentwire run,
// so the model's reasoning and text stream as agent_thinking / agent_output, and its tool calls go
// through agentwire (validated, stored, never repeated after a worker dies). The tool reads a local
// file; `model` is any AI SDK model.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineTool } from 'agentwire';
import { aiSdkAgent } from 'agentwire/ai-sdk';
import { z } from 'zod';

/** @type {Array<{ id: string, status: string, carrier: string | null, eta: string | null, items: string[] }>} */
const orders = JSON.parse(readFileSync(join(import.meta.dirname, 'orders.json'), 'utf8'));

export const lookupOrder = defineTool({
  name: 'lookup_order',
  description: 'Looks an order up by its id (like A-1001): status, carrier, expected delivery, items.',
  input: z.object({ orderId: z.string().regex(/^[A-Z]-\d{4}$/, 'an order id like A-1001') }),
  async execute({ orderId }) {
    return orders.find((o) => o.id === orderId) ?? { error: `no order ${orderId}` };
  },
});

/** @param {import('ai').LanguageModel} model */
export function supportAgent(model) {
  return aiSdkAgent({
    name: 'support',
    description: 'Answers questions about orders, looking them up with lookup_order.',
    model,
    system: 'You are a support assistant. Look orders up with lookup_order before you answer; be brief.',
    tools: [lookupOrder],
    maxSteps: 4,
  });
}
