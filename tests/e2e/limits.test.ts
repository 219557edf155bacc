// Run and tool time limits end a run with agent_error {code: "timeout"}, through the real runtime.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gates, hangingAgent, hangingTool } from '../helpers/agents.js';
import { primaryBackend } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe(`time limits on ${primaryBackend}`, () => {
  let server: TestServer;
  const gates = new Gates();
  beforeAll(async () => {
    server = await startServer(primaryBackend, {
      agents: [gates.agent(), hangingAgent],
      tools: [hangingTool],
      env: { RUN_TIMEOUT_MS: '1500', TOOL_TIMEOUT_MS: '300' },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a run over RUN_TIMEOUT_MS ends with agent_error timeout, retryable', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const acc = await c.request('never released', { agent: 'gated' });
    const events = await c.runEvents(acc.runId as string);
    expect(events.at(-1)).toMatchObject({ type: 'agent_error', code: 'timeout', retryable: true });
  });

  it('a tool over TOOL_TIMEOUT_MS is answered as failed and the run ends with agent_error timeout', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const acc = await c.request('hang', { agent: 'hanging' });
    const events = await c.runEvents(acc.runId as string);
    expect(events.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_error']);
    expect(events[3]).toMatchObject({ tool: 'hang', ok: false, error: 'timed out after 300 ms' });
    expect(events[4]).toMatchObject({ code: 'timeout' });
  });
});
