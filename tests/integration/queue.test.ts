// The run queue over pg-boss, used through its public API only: a queued run's job is fetched and
// the run claimed in one transaction, and the job completed there. pg-boss's `fetch` returns no
// jobs for any error; an outage during the fetch must still be seen (and logged) as a failure.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../src/agents/registry.js';
import type { Agent } from '../../src/agents/types.js';
import { createLogger } from '../../src/log/logger.js';
import { NO_TURNS } from '../../src/runs/scheduler.js';
import { QueueFetchError, RunQueue } from '../../src/runs/queue.js';
import { RunWorker } from '../../src/runs/worker.js';
import type { Db } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrations.js';
import { claimQueuedRuns, insertRun } from '../../src/store/run-status.js';
import { getRun } from '../../src/store/runs.js';
import { insertThread } from '../../src/store/threads.js';
import { insertUser } from '../../src/store/users.js';
import { backends } from '../helpers/backends.js';
import { migratedDbPerTest, openTestDb, type TestDb } from '../helpers/db.js';
import { until } from '../helpers/wait.js';

const silent = createLogger('silent');
const lease = { owner: 'node-a', ms: 60_000 };

/** A queued run with its job, stored the way `accept` stores one when no worker slot is free. */
async function queuedRun(db: Db, queue: RunQueue, agent = 'quick'): Promise<string> {
  const userId = randomUUID();
  const threadId = randomUUID();
  const runId = randomUUID();
  await insertUser(db, { id: userId, username: `u-${userId}`, passwordHash: 'x' });
  await insertThread(db, { id: threadId, userId, title: 't' });
  await db.transaction(async (tx) => {
    await insertRun(tx, { id: runId, threadId, userId, agent, input: { text: 'hi' }, status: 'queued' });
    await queue.sendInTx(tx, runId);
  });
  return runId;
}

describe.each(backends)('run queue on %s', (backend) => {
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

  it('takes a queued run: the run is claimed and its job completed in one transaction', async () => {
    const runId = await queuedRun(t.db, queue);
    expect(await queue.job(runId)).toMatchObject({ state: 'created' });
    const taken = await queue.take(5, (tx, ids) => claimQueuedRuns(tx, ids, lease));
    expect(taken.map((r) => [r.id, r.status, r.attempt])).toEqual([[runId, 'running', 1]]);
    expect(await queue.job(runId)).toMatchObject({ state: 'completed' });
    expect(await queue.take(5, (tx, ids) => claimQueuedRuns(tx, ids, lease))).toEqual([]);
  });

  it('takes nothing when the claim fails: the job stays queued for the next fetch', async () => {
    const runId = await queuedRun(t.db, queue);
    await expect(
      queue.take(5, async () => {
        throw new Error('claim failed');
      }),
    ).rejects.toThrow('claim failed');
    expect(await queue.job(runId)).toMatchObject({ state: 'created' });
    expect((await getRun(t.db, runId))?.status).toBe('queued');
    expect((await queue.take(5, (tx, ids) => claimQueuedRuns(tx, ids, lease))).map((r) => r.id)).toEqual([runId]);
  });

  it('completes the job of a run that is no longer queued, without claiming it', async () => {
    const runId = await queuedRun(t.db, queue);
    await t.db.query(`UPDATE runs SET status = 'cancelled', finished_at = now() WHERE id = $1`, [runId]);
    expect(await queue.take(5, (tx, ids) => claimQueuedRuns(tx, ids, lease))).toEqual([]);
    expect(await queue.job(runId)).toMatchObject({ state: 'completed' });
    expect((await getRun(t.db, runId))?.attempt).toBe(0);
  });
});

const quick: Agent = {
  name: 'quick',
  description: 'test',
  async run(ctx) {
    await ctx.think('quick');
    return { text: 'done' };
  },
};

describe.runIf(process.env.DATABASE_URL)('run queue on postgres when the connection dies during the fetch', () => {
  let t: TestDb;
  let queue: RunQueue;
  let locker: Db;
  beforeEach(async () => {
    t = await openTestDb('postgres');
    await migrate(t.db);
    queue = new RunQueue(t.db, silent);
    await queue.start();
    locker = await t.another();
  });
  afterEach(async () => {
    await queue.stop();
    await t.dispose();
  });

  /**
   * Holds pg-boss's job table locked so the next fetch waits inside PostgreSQL, then terminates
   * the fetching connection (as a restart or a network fault would) and lets the table go.
   */
  async function killNextFetch(during: () => Promise<unknown>): Promise<void> {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let lockTaken!: () => void;
    const taken = new Promise<void>((r) => (lockTaken = r));
    const locked = locker.transaction(async (tx) => {
      await tx.query('LOCK TABLE pgboss.job IN ACCESS EXCLUSIVE MODE');
      lockTaken();
      await held;
    });
    try {
      await taken;
      const fetching = during();
      const pid = await until(async () => {
        const rows = await locker.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%SKIP LOCKED%'`,
        );
        return rows[0]?.pid;
      }, 'the fetch to wait for the job table');
      await locker.query('SELECT pg_terminate_backend($1)', [pid]);
      await fetching;
    } finally {
      release();
      await locked;
    }
  }

  it('take throws QueueFetchError with the cause instead of answering an empty queue', async () => {
    const runId = await queuedRun(t.db, queue);
    let outcome: unknown;
    await killNextFetch(() =>
      queue.take(5, (tx, ids) => claimQueuedRuns(tx, ids, lease)).then(
        (runs) => (outcome = runs),
        (err: unknown) => (outcome = err),
      ),
    );
    expect(outcome).toBeInstanceOf(QueueFetchError);
    expect(String((outcome as QueueFetchError).cause)).toMatch(/terminat/i);
    expect(await queue.job(runId)).toMatchObject({ state: 'created' });
  });

  it('a worker logs the failed fetch with its error, and takes the run once the database answers', async () => {
    const lines: Array<{ level: string; msg: string; err?: { message: string; stack: string } }> = [];
    const log = createLogger(
      'warn',
      new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as (typeof lines)[number]);
          done();
        },
      }),
    );
    const runId = await queuedRun(t.db, queue);
    const worker = new RunWorker(
      t.db,
      queue,
      { publish: () => undefined },
      {
        db: t.db,
        agents: new AgentRegistry().addAgent(quick),
        log,
        history: async () => [],
        turns: NO_TURNS,
        toolTimeoutMs: 5_000,
        runTimeoutMs: 60_000,
      },
      log,
      { concurrency: 2, pollIntervalMs: 600_000, nodeId: 'node-a', leaseMs: 60_000, maxAttempts: 5, retryDelayMs: 1_000 },
    );
    try {
      await killNextFetch(async () => {
        worker.start(); // its loop fetches at once
        await until(() => lines.some((l) => l.msg === 'fetching queued runs failed'), 'the failed fetch to be logged');
      });
      const line = lines.find((l) => l.msg === 'fetching queued runs failed')!;
      expect(line.level).toBe('warn');
      // The error keeps its cause: the connection PostgreSQL terminated.
      expect(line.err?.message).toMatch(/^fetching queued runs failed: terminating connection/);
      expect(line.err?.stack).toMatch(/QueueFetchError/);
      expect(await queue.job(runId)).toMatchObject({ state: 'created' });
      worker.wake();
      await until(async () => (await getRun(t.db, runId))?.status === 'completed', 'the run to complete after the outage');
      expect(await queue.job(runId)).toMatchObject({ state: 'completed' });
    } finally {
      await worker.stop();
    }
  });
});
