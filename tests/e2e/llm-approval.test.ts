// TOOLS_REQUIRING_APPROVAL applied to the LLM agent: the model's call of `pricing_lookup` is asked
// first and the run parks; on the answer a new attempt rebuilds the conversation from the stored
// events and makes the approved call (no model call is redone), or tells the model the call was
// denied, and the model goes on. The model is a local server speaking the provider's wire format.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayRun, type RunMachineEvent } from '../../machines/run.machine.js';
import type { RunEvent } from '../../src/protocol/events.js';
import { primaryBackend } from '../helpers/backends.js';
import { answer, callTool, FakeProvider } from '../helpers/llm-provider.js';
import { startServer, type TestServer } from '../helpers/server.js';

const grammarHolds = (all: RunEvent[]) => replayRun(all.map((e) => ({ ...e }) as unknown as RunMachineEvent))?.status === 'done';

describe(`the LLM agent with a tool that needs approval on ${primaryBackend}`, () => {
  let server: TestServer;
  const provider = new FakeProvider();
  beforeAll(async () => {
    await provider.start();
    server = await startServer(primaryBackend, {
      options: { llm: { tools: ['pricing_lookup'], agents: [] } as never },
      env: {
        LLM_BASE_URL: provider.url,
        LLM_API_KEY: 'sk-test-key',
        LLM_MODEL: 'gpt-4o-mini',
        LLM_OUTPUT_FLUSH_MS: '50',
        TOOLS_REQUIRING_APPROVAL: 'pricing_lookup',
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await provider.stop();
  });

  it.each([
    ['approved', { approved: true }],
    ['denied', { approved: false, reason: 'no lookups today' }],
  ])('%s: the call is asked before it runs, and the model gets its result or the refusal', async (label, value) => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const firstRequest = provider.requests.length;
    provider.enqueue({ chunks: callTool('call_1', 'pricing_lookup', { models: ['gpt-4o'] }) }, { chunks: answer(['Done ', label, '.']) });
    const runId = (await c.request(`price gpt-4o (${label})`)).runId as string;
    const q = await c.waitFor((f) => f.type === 'input_requested' && f.runId === runId);
    expect(q).toMatchObject({ kind: 'approval', tool: 'pricing_lookup', args: { models: ['gpt-4o'] } });
    // The tool has not run, and one model call was made.
    expect(c.eventsOf(runId).some((e) => e.type === 'tool_executing')).toBe(false);
    expect(provider.requests.length - firstRequest).toBe(1);

    c.send({ type: 'provide_input', runId, interruptId: q.interruptId, value });
    const events = await c.runEvents(runId);
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: `Done ${label}.` });
    expect(grammarHolds(events)).toBe(true);
    const completed = events.find((e) => e.type === 'tool_completed');
    // Two model calls in all: the one that asked for the tool is not made again.
    expect(provider.requests.length - firstRequest).toBe(2);
    const toolMessage = provider.requests.at(-1)!.body.messages.find((m) => (m as { role: string }).role === 'tool') as { content: string };
    if (value.approved) {
      expect(completed).toMatchObject({ tool: 'pricing_lookup', ok: true });
      expect(toolMessage.content).toContain('gpt-4o');
    } else {
      expect(completed).toMatchObject({ tool: 'pricing_lookup', ok: false, error: 'denied by the user' });
      expect(toolMessage.content).toContain('denied by the user');
    }
  });
});
