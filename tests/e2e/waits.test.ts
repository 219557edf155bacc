// Runs that wait for their user (docs/protocol.md, "Waiting for the user"): the question is
// stored, the run parks holding no worker slot and no lease, the answer from any socket continues
// it, bad answers are refused saying why, two racing answers store one, a waiting run can be
// cancelled, and one that waits too long ends with input_timeout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayRun, type RunMachineEvent } from '../../machines/run.machine.js';
import type { RunEvent } from '../../src/protocol/events.js';
import WebSocket from 'ws';
import { AgentwireClient, AgentwireError, type WebSocketFactory } from '../../client/src/index.js';
import { approvingAgent, askingAgent, invoiceCalls, sendInvoice } from '../helpers/asking-agents.js';
import { backends } from '../helpers/backends.js';
import type { TestClient } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const grammarHolds = (all: RunEvent[]) => replayRun(all.map((e) => ({ ...e }) as unknown as RunMachineEvent))?.status === 'done';
const seqs = (events: RunEvent[]) => events.map((e) => e.seq);
const asked = (c: TestClient, runId: string) => c.waitFor((f) => f.type === 'input_requested' && f.runId === runId);

describe.each(backends)('runs waiting for their user on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(backend, { agents: [askingAgent, approvingAgent], tools: [sendInvoice] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const row = async (runId: string) =>
    (
      await server.runtime.database.query<{ status: string; lease_owner: string | null; lease_expires_at: unknown; attempt: number }>(
        'SELECT status, lease_owner, lease_expires_at, attempt FROM runs WHERE id = $1',
        [runId],
      )
    )[0];
  const stored = async (runId: string, type: string) =>
    Number((await server.runtime.database.query<{ n: number }>('SELECT count(*)::int AS n FROM run_events WHERE run_id = $1 AND type = $2', [runId, type]))[0]?.n);

  it('approval granted: the run parks (no slot, no lease), then the call runs and the run completes', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const before = invoiceCalls.count;
    const acc = await c.request('invoice please', { agent: 'invoicer' });
    const runId = acc.runId as string;
    const q = await asked(c, runId);
    expect(q).toMatchObject({ kind: 'approval', tool: 'send_invoice', args: { amount: 42 } });
    await until(async () => (await row(runId))?.status === 'waiting', 'the run to park');
    expect(await row(runId)).toMatchObject({ status: 'waiting', lease_owner: null, lease_expires_at: null });
    await until(() => server.runtime.activeRuns === 0, 'the worker to hold no run');
    expect(invoiceCalls.count).toBe(before);

    c.send({ type: 'provide_input', runId, interruptId: q.interruptId, value: { approved: true } });
    const events = await c.runEvents(runId);
    expect(events.map((e) => e.type)).toEqual([
      'agent_started',
      'agent_thinking',
      'input_requested',
      'input_received',
      'tool_executing',
      'tool_completed',
      'agent_output',
      'agent_completed',
    ]);
    expect(seqs(events)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(events[5]).toMatchObject({ ok: true, result: { sent: true, amount: 42 } });
    expect(events.at(-1)).toMatchObject({ text: 'sent 42' });
    expect(invoiceCalls.count).toBe(before + 1);
    expect(grammarHolds(events)).toBe(true);
  });

  it('approval denied: the call is a failed pair "denied by the user", nothing runs, and the agent goes on', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const before = invoiceCalls.count;
    const runId = (await c.request('invoice please', { agent: 'invoicer' })).runId as string;
    const q = await asked(c, runId);
    c.send({ type: 'provide_input', runId, interruptId: q.interruptId, value: { approved: false, reason: 'not this month' } });
    const events = await c.runEvents(runId);
    expect(events.find((e) => e.type === 'input_received')).toMatchObject({ value: { approved: false, reason: 'not this month' } });
    expect(events.find((e) => e.type === 'tool_completed')).toMatchObject({ tool: 'send_invoice', ok: false, error: 'denied by the user' });
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'not sent: denied by the user' });
    expect(invoiceCalls.count).toBe(before);
  });

  it('bad answers are refused saying why (not_found, bad_request naming the field, already answered); a good one continues the run', async () => {
    const u = await server.register();
    const other = await server.register();
    const c = await server.connect(u.token);
    const o = await server.connect(other.token);
    await c.waitType('session_ready');
    await o.waitType('session_ready');
    const runId = (await c.request('seats', { agent: 'asker' })).runId as string;
    const q = await asked(c, runId);
    expect(q).toMatchObject({ kind: 'input', prompt: 'How many seats?', schema: { required: ['seats'] } });
    const refusal = async (client: TestClient, frame: Record<string, unknown>) => {
      const from = client.frames.length;
      client.send({ type: 'provide_input', runId, ...frame });
      return client.waitFor((f) => f.type === 'error', from);
    };
    // Another user's run names nothing.
    expect(await refusal(o, { interruptId: q.interruptId, value: { seats: 3 } })).toMatchObject({ code: 'not_found', runId });
    expect(await refusal(c, { interruptId: 'no-such-question', value: { seats: 3 } })).toMatchObject({ code: 'not_found' });
    const bad = await refusal(c, { interruptId: q.interruptId, value: { seats: 0 } });
    expect(bad).toMatchObject({ code: 'bad_request' });
    expect(bad.message).toContain('value.seats');
    expect((await refusal(c, { interruptId: q.interruptId, value: { seats: 2, extra: true } })).code).toBe('bad_request');
    const missing = await refusal(c, { interruptId: q.interruptId });
    expect(missing).toMatchObject({ code: 'bad_request' });
    expect(missing.message).toContain('value');
    expect(await row(runId)).toMatchObject({ status: 'waiting' });

    c.send({ type: 'provide_input', runId, interruptId: q.interruptId, value: { seats: 3 } });
    const events = await c.runEvents(runId);
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'seats: 3' });
    const again = await refusal(c, { interruptId: q.interruptId, value: { seats: 4 } });
    expect(again).toMatchObject({ code: 'bad_request' });
    expect(again.message).toContain('already answered');
    expect(await stored(runId, 'input_received')).toBe(1);
  });

  it('answered after the socket dropped: a new socket sees the question in session_ready, answers, and resumes the rest', async () => {
    const u = await server.register();
    const a = await server.connect(u.token);
    await a.waitType('session_ready');
    const runId = (await a.request('seats', { agent: 'asker' })).runId as string;
    const q = await asked(a, runId);
    await until(async () => (await row(runId))?.status === 'waiting', 'the run to park');
    a.terminate();

    const b = await server.connect(u.token);
    const ready = await b.waitType('session_ready');
    const listed = (ready.runs as Array<Record<string, unknown>>).find((r) => r.runId === runId);
    expect(listed).toMatchObject({ status: 'waiting', lastSeq: q.seq, waiting: { interruptId: q.interruptId, kind: 'input', prompt: 'How many seats?', seq: q.seq } });
    b.send({ type: 'resume', runs: [{ runId, afterSeq: q.seq as number }] });
    b.send({ type: 'provide_input', runId, interruptId: q.interruptId, value: { seats: 5 } });
    await b.runEvents(runId);
    expect(seqs(b.eventsOf(runId))).toEqual([4, 5, 6]);
    expect(b.eventsOf(runId).map((e) => e.type)).toEqual(['input_received', 'agent_output', 'agent_completed']);
  });

  it('two answers racing from two sockets: the first wins, the second is told it was already answered, one is stored', async () => {
    const u = await server.register();
    const a = await server.connect(u.token);
    const b = await server.connect(u.token);
    await a.waitType('session_ready');
    await b.waitType('session_ready');
    const runId = (await a.request('seats', { agent: 'asker' })).runId as string;
    const q = await asked(a, runId);
    await until(async () => (await row(runId))?.status === 'waiting', 'the run to park');
    a.send({ type: 'provide_input', runId, interruptId: q.interruptId, value: { seats: 1 } });
    b.send({ type: 'provide_input', runId, interruptId: q.interruptId, value: { seats: 2 } });
    const events = await a.runEvents(runId);
    const errors = [...a.frames, ...b.frames].filter((f) => f.type === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'bad_request', runId });
    expect(errors[0]?.message).toContain('already answered');
    expect(await stored(runId, 'input_received')).toBe(1);
    const value = (events.find((e) => e.type === 'input_received') as { value: { seats: number } }).value.seats;
    expect(events.at(-1)).toMatchObject({ text: `seats: ${value}` });
    // The loser's socket was the one refused.
    expect(errors[0]).toBe((value === 1 ? b : a).frames.find((f) => f.type === 'error'));
  });

  it('client SDK: run.waiting shows the question, run.answer refuses a bad value with the server\'s reason and continues the run with a good one', async () => {
    const u = await server.register();
    const client = new AgentwireClient({ url: server.wsUrl, token: u.token, WebSocket: WebSocket as unknown as WebSocketFactory });
    await client.connect();
    try {
      const run = await client.ask('seats', { agent: 'asker' });
      for await (const e of run) if (e.type === 'input_requested') break;
      expect(run.waiting).toMatchObject({ kind: 'input', prompt: 'How many seats?' });
      const refused = await run.answer({ seats: 0 }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(AgentwireError);
      expect(refused).toMatchObject({ code: 'bad_request' });
      expect((refused as Error).message).toContain('value.seats');
      // A second client, as after a reconnect on another device: the question comes with session_ready.
      const other = new AgentwireClient({ url: server.wsUrl, token: u.token, WebSocket: WebSocket as unknown as WebSocketFactory });
      await other.connect();
      const listed = other.sessionRuns.find((r) => r.runId === run.runId)!;
      const followed = other.follow(run.runId, run.threadId, listed.lastSeq);
      expect(followed.waiting).toMatchObject({ interruptId: run.waiting!.interruptId });
      await followed.answer({ seats: 2 });
      expect(followed.waiting).toBeUndefined();
      expect(await followed.done).toMatchObject({ type: 'agent_completed', text: 'seats: 2' });
      expect(await run.done).toMatchObject({ type: 'agent_completed', text: 'seats: 2' });
      expect(run.waiting).toBeUndefined();
      other.close();
    } finally {
      client.close();
    }
  });

  it('cancel_run while waiting ends the run with agent_cancelled; an answer after it is refused', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const runId = (await c.request('seats', { agent: 'asker' })).runId as string;
    const q = await asked(c, runId);
    await until(async () => (await row(runId))?.status === 'waiting', 'the run to park');
    c.send({ type: 'cancel_run', runId });
    const events = await c.runEvents(runId);
    expect(events.at(-1)).toMatchObject({ type: 'agent_cancelled', reason: 'cancelled by user' });
    expect(grammarHolds(events)).toBe(true);
    expect((await row(runId))?.status).toBe('cancelled');
    const from = c.frames.length;
    c.send({ type: 'provide_input', runId, interruptId: q.interruptId, value: { seats: 1 } });
    const err = await c.waitFor((f) => f.type === 'error', from);
    expect(err).toMatchObject({ code: 'bad_request' });
    expect(err.message).toContain('not waiting');
  });
});

describe('a waiting run across a restart of the server (embedded database)', () => {
  it('stopped while the run waits and started again on the same data: the answer continues it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agentwire-waits-'));
    try {
      const first = await startServer('pglite', { agents: [askingAgent], dataDir, keepData: true });
      const u = await first.register();
      const a = await first.connect(u.token);
      await a.waitType('session_ready');
      const runId = (await a.request('seats', { agent: 'asker' })).runId as string;
      const q = await asked(a, runId);
      const before = a.eventsOf(runId);
      await first.stop();
      const second = await startServer('pglite', { agents: [askingAgent], dataDir, keepData: true });
      try {
        const b = await second.connect(u.token);
        const ready = await b.waitType('session_ready');
        expect((ready.runs as Array<Record<string, unknown>>).find((r) => r.runId === runId)).toMatchObject({ status: 'waiting', waiting: { interruptId: q.interruptId } });
        b.send({ type: 'resume', runs: [{ runId, afterSeq: q.seq as number }] });
        b.send({ type: 'provide_input', runId, interruptId: q.interruptId, value: { seats: 7 } });
        const all = [...before, ...(await b.runEvents(runId))];
        expect(seqs(all)).toEqual(all.map((_, i) => i + 1));
        expect(all.at(-1)).toMatchObject({ type: 'agent_completed', text: 'seats: 7' });
        expect(grammarHolds(all)).toBe(true);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the input time limit', () => {
  let server: TestServer;
  beforeAll(async () => {
    // The sweep runs with every scan for lapsed leases (about every LEASE_MS / 2).
    server = await startServer(backends[0]!, { env: { INPUT_TIMEOUT_MS: '1000', LEASE_MS: '1000' }, agents: [askingAgent] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a run that waits longer than INPUT_TIMEOUT_MS ends with agent_error input_timeout', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const runId = (await c.request('seats', { agent: 'asker' })).runId as string;
    await asked(c, runId);
    const events = await c.runEvents(runId);
    expect(events.map((e) => e.type).slice(-2)).toEqual(['input_requested', 'agent_error']);
    expect(events.at(-1)).toMatchObject({ code: 'input_timeout', retryable: false });
    expect(grammarHolds(events)).toBe(true);
  });
});
