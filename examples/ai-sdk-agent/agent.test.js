// The agent on agentwire's test harness, with the AI SDK's own mock model (ai/test) scripted to
// call the tool and then answer: the events a client gets and the run statechart's verdict.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { simulateReadableStream } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { assertGrammar, createHarness } from 'agentwire/testing';
import { lookupOrder, supportAgent } from './agent.js';

const usage = { inputTokens: { total: 20, noCache: 20, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 5, text: 5, reasoning: 0 } };
const step = (...parts) => ({ stream: simulateReadableStream({ chunks: [{ type: 'stream-start', warnings: [] }, ...parts] }) });
const model = new MockLanguageModelV3({
  doStream: [
    step(
      { type: 'reasoning-start', id: 'r' },
      { type: 'reasoning-delta', id: 'r', delta: 'The customer asks about A-1001; look it up.' },
      { type: 'reasoning-end', id: 'r' },
      { type: 'tool-call', toolCallId: 'call-1', toolName: 'lookup_order', input: '{"orderId":"A-1001"}' },
      { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage },
    ),
    step(
      { type: 'text-start', id: 't' },
      { type: 'text-delta', id: 't', delta: 'Order A-1001 has shipped with DHL; ' },
      { type: 'text-delta', id: 't', delta: 'it should arrive on 2026-12-03.' },
      { type: 'text-end', id: 't' },
      { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage },
    ),
  ],
});

/** @type {import('agentwire/testing').Harness} */
let h;
before(async () => {
  h = await createHarness({ agents: [supportAgent(model)], tools: [lookupOrder] });
});
after(() => h.close());

test('looks the order up through agentwire and answers, keeping the event order', async () => {
  const run = await h.run('Where is my order A-1001?');
  assertGrammar(run);
  assert.deepEqual(
    run.events.map((e) => e.type),
    ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_output', 'agent_completed'],
  );
  const completed = run.events[3];
  assert.equal(completed.type === 'tool_completed' && completed.ok, true);
  assert.equal(run.text, 'Order A-1001 has shipped with DHL; it should arrive on 2026-12-03.');
  assert.deepEqual(run.terminal.type === 'agent_completed' && run.terminal.usage, { inputTokens: 40, outputTokens: 10 });
});
