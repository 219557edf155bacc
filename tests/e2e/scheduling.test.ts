// Who schedules a run (docs/reliability.md, "Who owns what"): a run accepted while this node's
// worker has a free slot is stored claimed by it and never gets a queue job; one accepted while
// every slot is taken is queued with a pg-boss job, fetched by a worker once a slot frees, and its
// job completed. Jobs are read through pg-boss's own API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gates } from '../helpers/agents.js';
import { backends } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

describe.each(backends)('run scheduling on %s', (backend) => {
  let server: TestServer;
  const gates = new Gates();
  beforeAll(async () => {
    // One slot, and the polling safety net far away: a queued run starts only when the slot that
    // frees wakes the worker.
    server = await startServer(backend, { env: { WORKER_CONCURRENCY: '1' }, agents: [gates.agent()], pollIntervalMs: 600_000 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const runRow = async (runId: string) =>
    (await server.runtime.database.query<{ status: string; attempt: number }>('SELECT status, attempt FROM runs WHERE id = $1', [runId]))[0];

  it('a run accepted with a free slot starts at once without a queue job; one accepted with none is queued, fetched and its job completed', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const first = await c.request('holds the slot', { agent: 'gated' });
    const firstId = first.runId as string;
    await gates.reached('holds the slot');
    expect(await server.runtime.runQueue.job(firstId)).toBeNull();
    expect(await runRow(firstId)).toEqual({ status: 'running', attempt: 1 });

    const second = await c.request('waits for the slot', { agent: 'gated' });
    const secondId = second.runId as string;
    expect(second.type).toBe('run_accepted');
    expect(await runRow(secondId)).toEqual({ status: 'queued', attempt: 0 });
    expect(await server.runtime.runQueue.job(secondId)).toMatchObject({ state: 'created' });

    gates.release('holds the slot');
    await c.runEvents(firstId);
    await gates.reached('waits for the slot');
    expect(await server.runtime.runQueue.job(secondId)).toMatchObject({ state: 'completed' });
    gates.release('waits for the slot');
    const events = await c.runEvents(secondId);
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', seq: events.length });
    expect(await runRow(secondId)).toEqual({ status: 'completed', attempt: 1 });
  });

  it('cancelling a queued run cancels its job, and the run ends with agent_started then agent_cancelled', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const holder = (await c.request('holds it again', { agent: 'gated' })).runId as string;
    await gates.reached('holds it again');
    const queued = (await c.request('never starts', { agent: 'gated' })).runId as string;
    expect(await server.runtime.runQueue.job(queued)).toMatchObject({ state: 'created' });
    c.send({ type: 'cancel_run', runId: queued });
    const events = await c.runEvents(queued);
    expect(events.map((e) => e.type)).toEqual(['agent_started', 'agent_cancelled']);
    expect(await server.runtime.runQueue.job(queued)).toMatchObject({ state: 'cancelled' });
    gates.release('holds it again');
    await c.runEvents(holder);
    // The slot is free again and nothing is left queued: a new run starts at once, without a job.
    const next = (await c.request('after', { agent: 'gated' })).runId as string;
    await gates.reached('after');
    expect(await server.runtime.runQueue.job(next)).toBeNull();
    gates.release('after');
    await c.runEvents(next);
    await until(async () => (await runRow(next))?.status === 'completed', 'the last run to be stored completed');
  });
});
