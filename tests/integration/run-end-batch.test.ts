// Runs' ends grouped (store/end-batcher.ts): the ends that arrive while an end write is in flight
// go together in the next one, one statement for all, through the scheduler's `endRun` as the
// executor calls it; each end keeps its own outcome and hand-over, on both backends.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import type { RunEvent } from '../../src/protocol/events.js';
import type { RunSlot } from '../../src/runs/handoff.js';
import { RunQueue } from '../../src/runs/queue.js';
import { ThreadScheduler } from '../../src/runs/scheduler.js';
import type { Db } from '../../src/store/db.js';
import { EndBatcher } from '../../src/store/end-batcher.js';
import { appendEvent, readEvents, StaleAttemptError } from '../../src/store/event-log.js';
import { threadMessages } from '../../src/store/messages.js';
import type { RunEnd } from '../../src/store/run-end.js';
import { claimRun, insertRun, type ClaimedRun } from '../../src/store/run-status.js';
import { getRun } from '../../src/store/runs.js';
import { insertThread } from '../../src/store/threads.js';
import { insertUser } from '../../src/store/users.js';
import { backends } from '../helpers/backends.js';
import { migratedDbPerTest, type TestDb } from '../helpers/db.js';
import { until } from '../helpers/wait.js';

const silent = createLogger('silent');
const lease = { owner: 'node-a', ms: 60_000 };
const N = 8;

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

type Run = Awaited<ReturnType<typeof startedRun>>;

async function pendingRun(db: Db, threadId: string, userId: string) {
  const id = randomUUID();
  await insertRun(db, { id, threadId, userId, agent: 'bench', input: { text: 'next' }, status: 'pending' });
  return id;
}

function completion(runId: string, threadId: string, attempt: number, text = `answer of ${runId}`): RunEnd {
  const event: RunEvent = { type: 'agent_completed', runId, threadId, seq: 2, ts: new Date().toISOString(), text, durationMs: 1 };
  return { event, attempt, json: JSON.stringify(event), status: 'completed', answer: { messageId: randomUUID(), text } };
}

const answers = async (db: Db, threadId: string) => (await threadMessages(db, threadId)).filter((m) => m.role === 'assistant').map((m) => m.content);

/** The same database, recording the end statements sent through it (`aw_end_run`) and their parameters. */
function counting(db: Db): { db: Db; ends: unknown[][] } {
  const ends: unknown[][] = [];
  const proxy = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'query')
        return (sql: string, params?: unknown[]) => {
          if (sql.includes('aw_end_run')) ends.push(params ?? []);
          return target.query(sql, params);
        };
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { db: proxy, ends };
}

describe.each(backends)('runs\' ends grouped on %s', (backend) => {
  if (backend !== 'postgres') console.info(`runs' ends grouped on ${backend}: 1 test runs on PostgreSQL only (two processes' batches racing for the same threads): PGlite serves one connection, so two statements never wait for each other`);
  let t!: TestDb;
  let queue: RunQueue;
  migratedDbPerTest(backend, (db) => (t = db));
  beforeEach(async () => {
    queue = new RunQueue(t.db, silent);
    await queue.start();
  });
  afterEach(async () => {
    await queue.stop();
  });

  /** A scheduler over a worker with `free` slots, recording the runs it started. */
  function scheduler(free: number) {
    const started: ClaimedRun[] = [];
    const s = new ThreadScheduler(queue, { publishQueued: () => undefined, publishCancel: () => undefined });
    s.useWorker({
      reserve: (): RunSlot | undefined => (free-- > 0 ? { lease, start: (run) => started.push(run), release: () => void free++ } : undefined),
      wake: () => undefined,
      abort: () => false,
    });
    return { s, started };
  }

  it(`stores ${N} ends that arrive together in fewer statements than ${N}, each with its own answer, locking threads in one order`, async () => {
    const runs = await Promise.all(Array.from({ length: N }, () => startedRun(t.db)));
    const c = counting(t.db);
    const w = scheduler(0);
    let sent = 0;
    const handoffs = await Promise.all(runs.map((r) => w.s.endRun(c.db, completion(r.runId, r.threadId, r.attempt), () => sent++)));
    for (const h of handoffs) h.committed();
    expect(sent).toBe(N);
    // The first end goes out at once, alone (and on PostgreSQL a second beside it); the rest wait and go together.
    expect(c.ends.length).toBeLessThan(N);
    expect(c.ends.length).toBeLessThanOrEqual(backend === 'postgres' ? 3 : 2);
    for (const r of runs) {
      expect(await getRun(t.db, r.runId)).toMatchObject({ status: 'completed', last_seq: 2 });
      expect(await answers(t.db, r.threadId)).toEqual([`answer of ${r.runId}`]);
    }
    // A grouped statement's threads ($2) in ascending order: every writer locks them in the same order.
    const grouped = c.ends.filter((p) => Array.isArray(p[1]));
    expect(grouped.length).toBeGreaterThan(0);
    for (const p of grouped) {
      const threads = p[1] as string[];
      expect(threads).toEqual([...threads].sort());
    }
  });

  it('refuses a stale attempt\'s end alone while the others of its statement are stored', async () => {
    const runs = await Promise.all(Array.from({ length: N }, () => startedRun(t.db)));
    // The last run was taken over by another attempt (its lease lapsed): its end, attempt 1, is stale.
    const stale = runs[N - 1]!;
    await t.db.query(`UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [stale.runId]);
    expect((await claimRun(t.db, stale.runId, lease))?.attempt).toBe(stale.attempt + 1);
    const c = counting(t.db);
    const w = scheduler(0);
    const results = await Promise.allSettled(runs.map((r) => w.s.endRun(c.db, completion(r.runId, r.threadId, r.attempt), () => undefined)));
    expect(c.ends.length).toBeLessThan(N);
    expect(results.slice(0, N - 1).map((x) => x.status)).toEqual(Array(N - 1).fill('fulfilled'));
    const refused = results[N - 1]!;
    expect(refused.status === 'rejected' ? refused.reason : undefined).toBeInstanceOf(StaleAttemptError);
    for (const r of runs.slice(0, N - 1)) expect(await getRun(t.db, r.runId)).toMatchObject({ status: 'completed', last_seq: 2 });
    expect(await getRun(t.db, stale.runId)).toMatchObject({ status: 'running', last_seq: 1 });
    expect((await readEvents(t.db, stale.runId, 0)).length).toBe(1);
    expect(await answers(t.db, stale.threadId)).toEqual([]);
  });

  it('hands each thread\'s waiting run over in the grouped statement: claimed with a slot lent, else queued with its job', async () => {
    const runs = await Promise.all(Array.from({ length: N }, () => startedRun(t.db)));
    const next = await Promise.all(runs.map((r) => pendingRun(t.db, r.threadId, r.userId)));
    const c = counting(t.db);
    // Slots for half of them: the others' ends meet a waiting run without a slot ('queue') and go again alone, in a transaction.
    const w = scheduler(N / 2);
    const handoffs = await Promise.all(runs.map((r) => w.s.endRun(c.db, completion(r.runId, r.threadId, r.attempt), () => undefined)));
    for (const h of handoffs) h.committed();
    expect(c.ends.length).toBeLessThan(N);
    expect(w.started.map((x) => x.id).sort()).toEqual(next.slice(0, N / 2).sort());
    for (const id of next.slice(0, N / 2)) {
      expect((await getRun(t.db, id))?.status).toBe('running');
      expect(await queue.job(id)).toBeNull();
    }
    for (const id of next.slice(N / 2)) {
      expect((await getRun(t.db, id))?.status).toBe('queued');
      expect(await queue.job(id)).toMatchObject({ state: 'created' });
    }
    for (const r of runs) {
      expect((await getRun(t.db, r.runId))?.status).toBe('completed');
      expect(await answers(t.db, r.threadId)).toEqual([`answer of ${r.runId}`]);
    }
  });

  it('when the grouped statement fails for all, stores each end alone: only the end at fault fails', async () => {
    const runs = await Promise.all(Array.from({ length: N }, () => startedRun(t.db)));
    const ends = runs.map((r) => completion(r.runId, r.threadId, r.attempt));
    // The last end's answer has the id of a message already stored: its row fails the statement for all.
    const taken = randomUUID();
    await t.db.query(`INSERT INTO messages (id, thread_id, role, content) VALUES ($1, $2, 'user', 'q')`, [taken, runs[0]!.threadId]);
    ends[N - 1] = { ...ends[N - 1]!, answer: { messageId: taken, text: 'clash' } };
    const c = counting(t.db);
    const w = scheduler(0);
    const results = await Promise.allSettled(runs.map((r, i) => w.s.endRun(c.db, ends[i]!, () => undefined)));
    expect(results.slice(0, N - 1).map((x) => x.status)).toEqual(Array(N - 1).fill('fulfilled'));
    expect(results[N - 1]!.status).toBe('rejected');
    // The grouped statement, then each of its ends again alone.
    expect(c.ends.some((p) => Array.isArray(p[0]))).toBe(true);
    for (const r of runs.slice(0, N - 1)) expect(await getRun(t.db, r.runId)).toMatchObject({ status: 'completed', last_seq: 2 });
    expect(await getRun(t.db, runs[N - 1]!.runId)).toMatchObject({ status: 'running', last_seq: 1 });
  });

  it.runIf(backend === 'postgres')('two writers whose statements share threads take them in one order: no deadlock, each batch one statement', async () => {
    const [a, b, x, y] = (await Promise.all(Array.from({ length: 4 }, () => startedRun(t.db)))) as [Run, Run, Run, Run];
    const [lo, hi] = [a, b].sort((p, q) => (p.threadId < q.threadId ? -1 : 1)) as [Run, Run];
    // Two processes on one PostgreSQL: two pools, each with its own batcher (one write in flight).
    const one = counting(await t.another());
    const two = counting(await t.another());
    const writerOne = new EndBatcher(one.db, 1);
    const writerTwo = new EndBatcher(two.db, 1);
    const waiters = async () =>
      (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0]!.n;
    // A third transaction holds the lower thread, so both writers' statements meet and wait.
    const blocker = await t.another();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const blocking = blocker.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM threads WHERE id = $1 FOR UPDATE', [lo.threadId]);
      locked();
      await held;
    });
    await isLocked;
    const none = () => undefined;
    // Writer one: a first end alone (x), then lo's and hi's together, which wait for lo's thread.
    const first = [x, lo, hi].map((r) => writerOne.end(completion(r.runId, r.threadId, r.attempt), undefined, none));
    await until(async () => (await waiters()) === 1, "writer one's statement to wait for the thread");
    // Writer two: hi's and lo's ends in the other order (stale attempts: refused, each after its thread's lock).
    const second = [y, hi, lo].map((r) => writerTwo.end(completion(r.runId, r.threadId, r.attempt + (r === y ? 0 : 1)), undefined, none));
    await until(async () => (await waiters()) === 2, "writer two's statement to wait");
    // Unsorted, writer two would hold hi's thread while waiting for lo's, which writer one gets
    // first and holds while waiting for hi's: PostgreSQL would abort one as a deadlock, and its
    // ends would go again one by one.
    release();
    await blocking;
    expect((await Promise.all(first)).map((r) => r.outcome)).toEqual(['ended', 'ended', 'ended']);
    expect((await Promise.all(second)).map((r) => r.outcome)).toEqual(['ended', 'stale', 'stale']);
    expect([one.ends.length, two.ends.length]).toEqual([2, 2]);
    for (const r of [lo, hi]) expect(await answers(t.db, r.threadId)).toEqual([`answer of ${r.runId}`]);
  });
});
