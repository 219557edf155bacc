// The product in one test: register, log in, open a socket, ask, and get the five events in
// order, on the asker's sockets only, with a substantive answer, every event stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEventSchema } from '../../src/protocol/events.js';
import { backends } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe.each(backends)('golden path on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    // The worker's polling safety net is set to ten minutes: the run can only finish within the
    // test's timeout if accepting it wakes the worker directly.
    server = await startServer(backend, { pollIntervalMs: 600_000 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('streams agent_started, thinking, a tool call and agent_completed in order, and stores them', async () => {
    const alice = await server.register();
    const client = await server.connect(alice.token);
    const ready = await client.waitType('session_ready');
    expect(ready).toMatchObject({ userId: alice.userId, limits: { maxFrameBytes: 65536 }, runs: [] });
    expect(client.ws.protocol).toBe('agentwire.v1');

    const accepted = await client.request('Where does my money go, and which calls can move to a cheaper model?');
    expect(accepted.type).toBe('run_accepted');
    const runId = accepted.runId as string;
    const events = await client.runEvents(runId);

    for (const e of events) expect(runEventSchema.safeParse(e).success).toBe(true);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('agent_started');
    expect(types.at(-1)).toBe('agent_completed');
    const firstThinking = types.indexOf('agent_thinking');
    const firstTool = types.indexOf('tool_executing');
    expect(firstThinking).toBeGreaterThan(0);
    expect(firstTool).toBeGreaterThan(firstThinking);
    expect(types.indexOf('tool_completed')).toBeGreaterThan(firstTool);

    const done = events.at(-1) as Extract<(typeof events)[number], { type: 'agent_completed' }>;
    expect(done.text).toMatch(/\$[\d,]+\.\d\d\/month/);
    expect(done.text).toMatch(/saving/i);
    expect(done.durationMs).toBeGreaterThanOrEqual(0);

    // Every event delivered is the stored one, and the HTTP log serves the same sequence.
    const res = await fetch(`${server.url}/v1/runs/${runId}/events?after=0`, {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { events: unknown[] };
    expect(body.events).toEqual(events);

    // The accepting node's worker had a free slot: the run was stored claimed by it and started
    // without a queue job (docs/reliability.md), on its first attempt.
    expect(await server.runtime.runQueue.job(runId)).toBeNull();
    const [row] = await server.runtime.database.query<{ attempt: number; failed_attempts: number }>(
      'SELECT attempt, failed_attempts FROM runs WHERE id = $1',
      [runId],
    );
    expect(row).toEqual({ attempt: 1, failed_attempts: 0 });

    // The question and the answer are in the thread.
    const thread = await fetch(`${server.url}/v1/threads/${accepted.threadId as string}`, {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    const t = (await thread.json()) as { messages: Array<{ role: string; content: string }>; runs: Array<{ status: string }> };
    expect(t.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(t.messages[1]?.content).toBe(done.text);
    expect(t.runs[0]?.status).toBe('completed');
  });
});
