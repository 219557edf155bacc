// The lock order (docs/reliability.md, "Lock order"): the thread, then the run. A transaction that
// follows it (here: one that locks the thread, then updates the run, as a cancel would) and the
// run's terminal transaction must never wait for each other in a cycle. The terminal transaction
// is made to meet the thread's lock held by the other one: taking the thread first, it waits
// without holding the run, so the other goes through. Taking the run first (the order before),
// the two wait for each other and PostgreSQL aborts one of them as a deadlock. The same for the
// transaction that parks a run which asked its user, met by an answer (thread, then the run).
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../src/agents/registry.js';
import type { Agent } from '../../src/agents/types.js';
import { createLogger } from '../../src/log/logger.js';
import { executeRun } from '../../src/runs/executor.js';
import { NO_TURNS } from '../../src/runs/scheduler.js';
import { RunRecorder } from '../../src/runs/recorder.js';
import type { Db, Queryable } from '../../src/store/db.js';
import { readEvents } from '../../src/store/event-log.js';
import { migrate } from '../../src/store/migrations.js';
import { claimRun, insertRun } from '../../src/store/run-status.js';
import { getRun, lockRun } from '../../src/store/runs.js';
import { insertThread } from '../../src/store/threads.js';
import { insertUser } from '../../src/store/users.js';
import { openTestDb, type TestDb } from '../helpers/db.js';
import { until } from '../helpers/wait.js';

const quick: Agent = {
  name: 'quick',
  description: 'test',
  async run(ctx) {
    await ctx.think('thinking');
    return { text: 'done' };
  },
};

const asker: Agent = {
  name: 'asker',
  description: 'test',
  async run(ctx) {
    await ctx.think('thinking');
    const { seats } = await ctx.ask<{ seats: number }>({ kind: 'input', prompt: 'How many seats?' });
    return { text: `seats: ${seats}` };
  },
};

describe.runIf(process.env.DATABASE_URL)('lock order on postgres (PGlite has one connection: nothing to race)', () => {
  let t: TestDb;
  let second: Db;
  beforeEach(async () => {
    t = await openTestDb('postgres');
    await migrate(t.db);
    second = await t.another();
  });
  afterEach(async () => {
    await t.dispose();
  });

  /** A claimed run of `agent`, the executor's deps, and another connection's transaction that holds the thread's lock until released. */
  async function race(agent: Agent, then: (tx: Queryable, runId: string) => Promise<void>) {
    const userId = randomUUID();
    const threadId = randomUUID();
    const runId = randomUUID();
    await insertUser(t.db, { id: userId, username: `u-${userId}`, passwordHash: 'x' });
    await insertThread(t.db, { id: threadId, userId, title: 't' });
    await insertRun(t.db, { id: runId, threadId, userId, agent: agent.name, input: { text: 'go' }, status: 'queued' });
    const run = (await claimRun(t.db, runId, { owner: 'node-a', ms: 60_000 }))!;
    const recorder = new RunRecorder({ runId, threadId, userId }, run.attempt, t.db, { publish: () => undefined });
    const deps = {
      db: t.db,
      agents: new AgentRegistry().addAgent(agent),
      log: createLogger('silent'),
      history: async () => [],
      turns: NO_TURNS,
      toolTimeoutMs: 5_000,
      runTimeoutMs: 60_000,
    };

    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let threadLocked!: (pid: number) => void;
    const locked = new Promise<number>((r) => (threadLocked = r));
    // The other transaction: the thread, then (once the run's transaction waits) `then`.
    const other = second.transaction(async (tx) => {
      await tx.query('SELECT id FROM threads WHERE id = $1 FOR UPDATE', [threadId]);
      threadLocked((await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid);
      await held;
      await then(tx, runId);
    });
    const otherPid = await locked;
    const executed = executeRun(deps, run, recorder, new AbortController().signal);
    // The run's transaction waits (for the thread, behind the other transaction).
    await until(async () => {
      const rows = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`,
        [otherPid],
      );
      return rows[0]!.n === 1;
    }, "the run's transaction to wait for the thread");
    release();
    return { runId, other, executed };
  }

  it('a terminal transaction that meets its thread locked waits without holding its run: no deadlock', async () => {
    // As a cancel would: the thread, then the run's row updated.
    const { runId, other, executed } = await race(quick, async (tx, id) => {
      await tx.query(`UPDATE runs SET cancel_reason = 'cancelled by user' WHERE id = $1`, [id]);
    });
    await expect(other).resolves.toBeUndefined();
    expect(await executed).toBe('completed');
    expect(await getRun(t.db, runId)).toMatchObject({ status: 'completed', cancel_reason: 'cancelled by user', last_seq: 3 });
  });

  it('a run parking on its question that meets its thread locked waits without holding its run: no deadlock with an answer', async () => {
    // As an answer does (Waits.answer): the thread, then the run's row locked.
    const { runId, other, executed } = await race(asker, async (tx, id) => {
      await lockRun(tx, id);
    });
    await expect(other).resolves.toBeUndefined();
    expect(await executed).toBe('parked');
    expect(await getRun(t.db, runId)).toMatchObject({ status: 'waiting', last_seq: 3 });
    expect((await readEvents(t.db, runId, 0)).map((e) => e.event.type)).toEqual(['agent_started', 'agent_thinking', 'input_requested']);
  });
});
