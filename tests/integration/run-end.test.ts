// A run's end in one statement (store/run-end.ts, migration 0009) and the scheduler's `endRun`
// around it: the fence, the answer stored once, and the thread's next run promoted in the same
// statement (claimed when a slot is lent, queued with its job when none is), on both backends.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import type { RunEvent } from '../../src/protocol/events.js';
import type { RunSlot } from '../../src/runs/handoff.js';
import { RunQueue } from '../../src/runs/queue.js';
import { ThreadScheduler } from '../../src/runs/scheduler.js';
import type { Db, Queryable } from '../../src/store/db.js';
import { appendEvent, readEvents, StaleAttemptError } from '../../src/store/event-log.js';
import { threadMessages } from '../../src/store/messages.js';
import { endRun, type RunEnd } from '../../src/store/run-end.js';
import { claimRun, insertRun, type ClaimedRun } from '../../src/store/run-status.js';
import { getRun } from '../../src/store/runs.js';
import { insertThread, lockThread } from '../../src/store/threads.js';
import { insertUser } from '../../src/store/users.js';
import { backends } from '../helpers/backends.js';
import { migratedDbPerTest, type TestDb } from '../helpers/db.js';

const silent = createLogger('silent');
const lease = { owner: 'node-a', ms: 60_000 };

/** A thread whose first run is claimed (attempt 1) and started (seq 1). */
async function startedRun(db: Db) {
  const userId = randomUUID();
  const threadId = randomUUID();
  const runId = randomUUID();
  await insertUser(db, { id: userId, username: `u-${userId}`, passwordHash: 'x' });
  await insertThread(db, { id: threadId, userId, title: 't' });
  await insertRun(db, { id: runId, threadId, userId, agent: 'bench', input: { text: 'hi' }, status: 'queued' });
  const run = (await claimRun(db, runId, lease))!;
  const started: RunEvent = { type: 'agent_started', runId, threadId, seq: 1, ts: new Date().toISOString(), agent: 'bench', input: { text: 'hi' } };
  await appendEvent(db, { event: started, attempt: run.attempt, json: JSON.stringify(started) });
  return { userId, threadId, runId, attempt: run.attempt };
}

const pendingRun = async (db: Queryable, threadId: string, userId: string) => {
  const id = randomUUID();
  await insertRun(db, { id, threadId, userId, agent: 'bench', input: { text: 'next' }, status: 'pending' });
  return id;
};

function completion(runId: string, threadId: string, attempt: number, text = 'the answer'): RunEnd {
  const event: RunEvent = { type: 'agent_completed', runId, threadId, seq: 2, ts: new Date().toISOString(), text, durationMs: 1 };
  return { event, attempt, json: JSON.stringify(event), status: 'completed', answer: { messageId: randomUUID(), text } };
}

const answers = async (db: Db, threadId: string) => (await threadMessages(db, threadId)).filter((m) => m.role === 'assistant').map((m) => m.content);

describe.each(backends)('a run ends in one statement on %s', (backend) => {
  if (backend !== 'postgres') console.info(`a run ends in one statement on ${backend}: 1 test runs on PostgreSQL only (a second connection commits while the statement waits for the thread's lock): PGlite serves one connection, so nothing can commit meanwhile`);
  let t!: TestDb;
  migratedDbPerTest(backend, (db) => (t = db));

  it('stores the terminal event with the run\'s status and the answer, exactly once', async () => {
    const r = await startedRun(t.db);
    const end = completion(r.runId, r.threadId, r.attempt);
    expect(await endRun(t.db, end, { claim: undefined, mayQueue: false })).toEqual({ outcome: 'ended', next: undefined });
    expect((await readEvents(t.db, r.runId, 0)).map((e) => e.event.type)).toEqual(['agent_started', 'agent_completed']);
    expect(await getRun(t.db, r.runId)).toMatchObject({ status: 'completed', last_seq: 2, finished_at: expect.anything() });
    expect(await answers(t.db, r.threadId)).toEqual(['the answer']);
    // The same end again (a write tried again after its answer was lost): refused by the fence, no second answer.
    expect(await endRun(t.db, { ...end, answer: { messageId: randomUUID(), text: 'the answer' } }, { claim: undefined, mayQueue: false })).toEqual({ outcome: 'stale' });
    expect(await answers(t.db, r.threadId)).toEqual(['the answer']);
    expect((await readEvents(t.db, r.runId, 0)).length).toBe(2);
  });

  it('refuses a stale attempt\'s end: nothing stored, the next run not promoted', async () => {
    const r = await startedRun(t.db);
    const next = await pendingRun(t.db, r.threadId, r.userId);
    // Another attempt took the run over (its lease lapsed): attempt 1's end is stale.
    await t.db.query(`UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [r.runId]);
    expect((await claimRun(t.db, r.runId, lease))?.attempt).toBe(r.attempt + 1);
    expect(await endRun(t.db, completion(r.runId, r.threadId, r.attempt), { claim: lease, mayQueue: true })).toEqual({ outcome: 'stale' });
    expect(await getRun(t.db, r.runId)).toMatchObject({ status: 'running', last_seq: 1 });
    expect((await readEvents(t.db, r.runId, 0)).length).toBe(1);
    expect(await answers(t.db, r.threadId)).toEqual([]);
    expect((await getRun(t.db, next))?.status).toBe('pending');
  });

  it('promotes the thread\'s oldest waiting run in the same statement, claimed with the lease lent', async () => {
    const r = await startedRun(t.db);
    const first = await pendingRun(t.db, r.threadId, r.userId);
    const second = await pendingRun(t.db, r.threadId, r.userId);
    const res = await endRun(t.db, completion(r.runId, r.threadId, r.attempt), { claim: lease, mayQueue: false });
    expect(res.outcome).toBe('ended');
    const promoted = res.outcome === 'ended' ? res.next : undefined;
    expect(promoted).toMatchObject({ id: first, thread_id: r.threadId, status: 'running', attempt: 1, last_seq: 0, only_run: false, queue_wait_ms: 0 });
    const row = await t.db.query<{ lease_owner: string | null }>('SELECT lease_owner FROM runs WHERE id = $1', [first]);
    expect(row[0]?.lease_owner).toBe(lease.owner);
    expect((await getRun(t.db, second))?.status).toBe('pending');
    expect((await getRun(t.db, r.runId))?.status).toBe('completed');
  });

  it('without a slot, writes nothing unless it may queue the next run; then queues it', async () => {
    const r = await startedRun(t.db);
    const next = await pendingRun(t.db, r.threadId, r.userId);
    const end = completion(r.runId, r.threadId, r.attempt);
    expect(await endRun(t.db, end, { claim: undefined, mayQueue: false })).toEqual({ outcome: 'queue' });
    expect(await getRun(t.db, r.runId)).toMatchObject({ status: 'running', last_seq: 1 });
    expect(await answers(t.db, r.threadId)).toEqual([]);
    expect((await getRun(t.db, next))?.status).toBe('pending');
    const res = await endRun(t.db, end, { claim: undefined, mayQueue: true });
    expect(res.outcome === 'ended' ? res.next : undefined).toMatchObject({ id: next, status: 'queued', attempt: 0 });
    expect(await answers(t.db, r.threadId)).toEqual(['the answer']);
  });

  it('promotes nothing while another run holds the thread, and nothing for an error', async () => {
    const r = await startedRun(t.db);
    const holder = randomUUID();
    await insertRun(t.db, { id: holder, threadId: r.threadId, userId: r.userId, agent: 'bench', input: { text: 'x' }, status: 'queued' });
    const next = await pendingRun(t.db, r.threadId, r.userId);
    const error: RunEvent = { type: 'agent_error', runId: r.runId, threadId: r.threadId, seq: 2, ts: new Date().toISOString(), code: 'agent_failed', message: 'no', retryable: true };
    const res = await endRun(t.db, { event: error, attempt: r.attempt, json: JSON.stringify(error), status: 'failed' }, { claim: lease, mayQueue: false });
    expect(res).toEqual({ outcome: 'ended', next: undefined });
    expect((await getRun(t.db, r.runId))?.status).toBe('failed');
    expect((await getRun(t.db, next))?.status).toBe('pending');
    expect(await answers(t.db, r.threadId)).toEqual([]);
  });

  it.runIf(backend === 'postgres')('takes the thread lock first and then sees a run accepted behind the lock (a one-snapshot statement would not)', async () => {
    const r = await startedRun(t.db);
    const other = await t.another();
    let next: string | undefined;
    let ending: Promise<unknown> | undefined;
    await other.transaction(async (tx) => {
      // An accept on the thread: it holds the thread's lock and stores a run waiting its turn.
      await lockThread(tx, r.threadId);
      next = await pendingRun(tx, r.threadId, r.userId);
      ending = endRun(t.db, completion(r.runId, r.threadId, r.attempt), { claim: lease, mayQueue: false });
      // The end waits for the thread's lock, having written nothing yet (its run still running).
      await waitingForLock(other);
      expect((await getRun(tx, r.runId))?.status).toBe('running');
    });
    const res = (await ending) as Awaited<ReturnType<typeof endRun>>;
    expect(res.outcome === 'ended' ? res.next?.id : undefined).toBe(next);
    expect((await getRun(t.db, next!))?.status).toBe('running');
  });
});

/** Resolves once a backend waits for a row lock (the thread's), as pg_stat_activity shows it. */
async function waitingForLock(db: Db): Promise<void> {
  for (;;) {
    const rows = await db.query(
      `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%aw_end_run%' AND datname = current_database()`,
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe.each(backends)('the scheduler ends a run on %s', (backend) => {
  let t: TestDb;
  let queue: RunQueue;
  migratedDbPerTest(backend, (db) => (t = db));
  beforeEach(async () => {
    queue = new RunQueue(t.db, silent);
    await queue.start();
  });
  afterEach(async () => {
    await queue.stop();
  });

  /** A scheduler over a worker with `free` slots, recording what it was asked to do. */
  function scheduler(free: number) {
    const started: ClaimedRun[] = [];
    let released = 0;
    let woken = 0;
    const s = new ThreadScheduler(queue, { publishQueued: () => woken++, publishCancel: () => undefined });
    s.useWorker({
      reserve: (): RunSlot | undefined =>
        free-- > 0 ? { lease, start: (run) => started.push(run), release: () => void (released++, free++) } : undefined,
      wake: () => woken++,
      abort: () => false,
    });
    return { s, started, released: () => released, woken: () => woken };
  }

  it('hands a free slot to the next run: claimed in the statement, started once committed, no job', async () => {
    const r = await startedRun(t.db);
    const next = await pendingRun(t.db, r.threadId, r.userId);
    const w = scheduler(1);
    let beforeCommit = 0;
    const handoff = await w.s.endRun(t.db, completion(r.runId, r.threadId, r.attempt), () => beforeCommit++);
    expect(beforeCommit).toBe(1);
    expect(w.started).toEqual([]);
    handoff.committed();
    expect(w.started.map((x) => [x.id, x.status])).toEqual([[next, 'running']]);
    expect(await queue.job(next)).toBeNull();
  });

  it('queues the next run with its job, in one transaction, when no slot is free', async () => {
    const r = await startedRun(t.db);
    const next = await pendingRun(t.db, r.threadId, r.userId);
    const w = scheduler(0);
    let beforeCommit = 0;
    const handoff = await w.s.endRun(t.db, completion(r.runId, r.threadId, r.attempt), () => beforeCommit++);
    expect(beforeCommit).toBe(1);
    expect((await getRun(t.db, next))?.status).toBe('queued');
    expect(await queue.job(next)).toMatchObject({ state: 'created' });
    expect(await answers(t.db, r.threadId)).toEqual(['the answer']);
    handoff.committed();
    expect(w.woken()).toBe(2);
    expect(w.started).toEqual([]);
  });

  it('releases the slot it lent when the thread has no next run, and when the end is stale', async () => {
    const r = await startedRun(t.db);
    const w = scheduler(1);
    const handoff = await w.s.endRun(t.db, completion(r.runId, r.threadId, r.attempt), () => undefined);
    handoff.committed();
    expect(w.released()).toBe(1);
    await expect(w.s.endRun(t.db, completion(r.runId, r.threadId, r.attempt), () => undefined)).rejects.toBeInstanceOf(StaleAttemptError);
    expect(w.released()).toBe(2);
    expect(w.started).toEqual([]);
  });
});
