// One contract for the `Db` interface and the event log, run on PGlite and on PostgreSQL.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/protocol/events.js';
import { AppendBatcher } from '../../src/store/append-batcher.js';
import { appendEvent, readEvents, StaleAttemptError } from '../../src/store/event-log.js';
import { appendUnstartedTerminal, claimRun, insertRun } from '../../src/store/run-status.js';
import { loadMigrations, migrate, migrations, MIGRATIONS_DIR } from '../../src/store/migrations.js';
import { insertRequestKey } from '../../src/store/request-keys.js';
import { insertThread } from '../../src/store/threads.js';
import { lapsedRuns, releaseLease, renewLeases } from '../../src/store/leases.js';
import { upsertAck } from '../../src/store/sessions.js';
import { insertUser } from '../../src/store/users.js';
import { backends } from '../helpers/backends.js';
import { migratedDbPerTest, openTestDb, type TestDb } from '../helpers/db.js';

async function seedRun(t: TestDb) {
  const userId = randomUUID();
  const threadId = randomUUID();
  const runId = randomUUID();
  await insertUser(t.db, { id: userId, username: `u-${userId}`, passwordHash: 'x' });
  await insertThread(t.db, { id: threadId, userId, title: 't' });
  await insertRun(t.db, { id: runId, threadId, userId, agent: 'analyst', input: { text: 'hi' }, status: 'queued' });
  return { userId, threadId, runId };
}

const ev = (runId: string, threadId: string, seq: number, type: 'agent_started' | 'agent_thinking' = seq === 1 ? 'agent_started' : 'agent_thinking'): RunEvent =>
  type === 'agent_started'
    ? { type, runId, threadId, seq, ts: new Date().toISOString(), agent: 'analyst', input: { text: 'hi' } }
    : { type, runId, threadId, seq, ts: new Date().toISOString(), text: `step ${seq}` };

describe.each(backends)('store on %s', (backend) => {
  if (backend !== 'postgres') console.info(`store on ${backend}: 2 tests run on PostgreSQL only (concurrent processes and writers): PGlite serves one connection in one process, so there is nothing to race`);
  let t!: TestDb;
  migratedDbPerTest(backend, (db) => (t = db));

  it('applies each migration once, however often it runs', async () => {
    expect(await migrate(t.db)).toEqual([]);
    const rows = await t.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
  });

  it('reads the migrations from their numbered .sql files, every version once and in order', () => {
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();
    expect(migrations.map((m) => m.version)).toEqual(files.map((f) => Number(f.slice(0, 4))));
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
    expect(migrations.find((m) => m.version === 2)).toMatchObject({ name: 'run leases', sql: expect.stringContaining('ADD COLUMN lease_owner') });
  });

  it('refuses a migration file that is not named NNNN-name.sql', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    try {
      writeFileSync(join(dir, '0001-ok.sql'), 'SELECT 1;');
      writeFileSync(join(dir, '2-bad.sql'), 'SELECT 1;');
      expect(() => loadMigrations(dir)).toThrow(/NNNN-name\.sql/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(backend === 'postgres')('applies migrations once when several processes start together', async () => {
    const fresh = await openTestDb('postgres');
    try {
      const peers = await Promise.all([fresh.another(), fresh.another(), fresh.another()]);
      const applied = await Promise.all([fresh.db, ...peers].map((d) => migrate(d)));
      expect(applied.flat().sort()).toEqual(migrations.map((m) => m.version));
    } finally {
      await fresh.dispose();
    }
  });

  it('rolls a failed transaction back', async () => {
    const id = randomUUID();
    await expect(
      t.db.transaction(async (tx) => {
        await insertUser(tx, { id, username: 'rollback', passwordHash: 'x' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await t.db.query('SELECT 1 FROM users WHERE id = $1', [id])).toHaveLength(0);
  });

  it('appends gapless seqs and refuses a gap, a repeat and a stale attempt', async () => {
    const { runId, threadId } = await seedRun(t);
    const run = await claimRun(t.db, runId);
    expect(run?.attempt).toBe(1);
    const put = (seq: number, attempt = 1) => {
      const event = ev(runId, threadId, seq);
      return appendEvent(t.db, { event, attempt, json: JSON.stringify(event) });
    };
    await put(1);
    await put(2);
    await expect(put(2)).rejects.toBeInstanceOf(StaleAttemptError); // repeat
    await expect(put(4)).rejects.toBeInstanceOf(StaleAttemptError); // gap
    // A live lease cannot be claimed; a lapsed one can, and the takeover fences the old attempt off.
    expect(await claimRun(t.db, runId, { owner: 'other', ms: 60_000 })).toBeUndefined();
    await t.db.query(`UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [runId]);
    expect(await lapsedRuns(t.db, 10)).toEqual([runId]);
    expect((await claimRun(t.db, runId, { owner: 'other', ms: 60_000 }))?.attempt).toBe(2);
    await expect(put(3, 1)).rejects.toBeInstanceOf(StaleAttemptError);
    await put(3, 2);
    const read = await readEvents(t.db, runId, 0);
    expect(read.map((r) => r.event.seq)).toEqual([1, 2, 3]);
    expect(read[0]?.event).toMatchObject({ type: 'agent_started', runId, threadId, seq: 1 });
    expect((await readEvents(t.db, runId, 2)).map((r) => r.event.seq)).toEqual([3]);
    expect(await readEvents(t.db, 'not-a-uuid', 0)).toEqual([]);
  });

  it('stores a batch of many runs\' appends together, refusing only the events that fail their fence', async () => {
    const runs = await Promise.all(Array.from({ length: 6 }, () => seedRun(t)));
    for (const r of runs) await claimRun(t.db, r.runId);
    // Three writes in flight at most one at a time: the first goes alone, the rest wait and go together.
    const batcher = new AppendBatcher(t.db, 1);
    const put = (r: { runId: string; threadId: string }, seq: number, attempt = 1) => {
      const event = ev(r.runId, r.threadId, seq);
      return batcher.appendRun([{ event, attempt, json: JSON.stringify(event) }]);
    };
    const [a, b, c, d, e, f] = runs as [typeof runs[0], typeof runs[0], typeof runs[0], typeof runs[0], typeof runs[0], typeof runs[0]];
    const results = await Promise.allSettled([put(a, 1), put(b, 1), put(c, 1), put(d, 2), put(e, 1, 2), put(f, 1)]);
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(results.filter((x) => x.status === 'rejected').every((x) => x.reason instanceof StaleAttemptError)).toBe(true);
    const second = await Promise.allSettled([put(a, 2), put(b, 2), put(c, 3), put(f, 1)]);
    expect(second.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    for (const [r, seqs] of [[a, [1, 2]], [b, [1, 2]], [c, [1]], [d, []], [e, []], [f, [1]]] as const) {
      expect((await readEvents(t.db, r.runId, 0)).map((x) => x.event.seq)).toEqual(seqs);
      const [row] = await t.db.query<{ last_seq: number }>('SELECT last_seq FROM runs WHERE id = $1', [r.runId]);
      expect(row?.last_seq).toBe(seqs.length);
    }
  });

  it.runIf(backend === 'postgres')('lets exactly one of two concurrent writers store a seq', async () => {
    const { runId, threadId } = await seedRun(t);
    await claimRun(t.db, runId);
    const other = await t.another();
    const results = await Promise.allSettled(
      [t.db, other].map((d) => {
        const event = ev(runId, threadId, 1);
        return appendEvent(d, { event, attempt: 1, json: JSON.stringify(event) });
      }),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await readEvents(t.db, runId, 0)).toHaveLength(1);
  });

  it('stores the two-event life of a run cancelled before it started, only once', async () => {
    const { runId, threadId } = await seedRun(t);
    const ts = new Date().toISOString();
    const events: [RunEvent, RunEvent] = [
      { type: 'agent_started', runId, threadId, seq: 1, ts, agent: 'analyst', input: { text: 'hi' } },
      { type: 'agent_cancelled', runId, threadId, seq: 2, ts, reason: 'cancelled by user' },
    ];
    expect(await appendUnstartedTerminal(t.db, events, 'cancelled')).toBe(true);
    expect(await appendUnstartedTerminal(t.db, events, 'cancelled')).toBe(false);
    expect(await claimRun(t.db, runId)).toBeUndefined(); // finished runs are not claimed
    expect((await readEvents(t.db, runId, 0)).map((r) => r.event.type)).toEqual(['agent_started', 'agent_cancelled']);
  });

  it('keeps request keys unique per user and acks monotonic', async () => {
    const { userId, runId, threadId } = await seedRun(t);
    expect(await insertRequestKey(t.db, { userId, requestId: 'r1', runId, threadId })).toBe(true);
    expect(await insertRequestKey(t.db, { userId, requestId: 'r1', runId: randomUUID(), threadId })).toBe(false);
    expect(await upsertAck(t.db, runId, 5)).toBe(5);
    expect(await upsertAck(t.db, runId, 3)).toBe(5);
    expect(await upsertAck(t.db, runId, 7)).toBe(7);
  });

  it('keeps what it stored across a restart', async () => {
    const { runId, threadId } = await seedRun(t);
    await claimRun(t.db, runId);
    const event = ev(runId, threadId, 1);
    await appendEvent(t.db, { event, attempt: 1, json: JSON.stringify(event) });
    const db = await t.reopen();
    expect(await migrate(db)).toEqual([]);
    expect((await readEvents(db, runId, 0)).map((r) => r.event.seq)).toEqual([1]);
  });

  it('renews only the leases its owner holds at the current attempt, and reports cancel requests', async () => {
    const { runId } = await seedRun(t);
    const run = await claimRun(t.db, runId, { owner: 'node-a', ms: 60_000 });
    expect(run?.attempt).toBe(1);
    const lease = { owner: 'node-a', ms: 60_000 };
    expect(await renewLeases(t.db, lease, [{ runId, attempt: 1 }])).toEqual([{ id: runId, cancel_reason: null }]);
    expect(await renewLeases(t.db, { owner: 'node-b', ms: 60_000 }, [{ runId, attempt: 1 }])).toEqual([]);
    expect(await renewLeases(t.db, lease, [{ runId, attempt: 0 }])).toEqual([]);
    await t.db.query(`UPDATE runs SET cancel_reason = 'cancelled by user' WHERE id = $1`, [runId]);
    expect(await renewLeases(t.db, lease, [{ runId, attempt: 1 }])).toEqual([{ id: runId, cancel_reason: 'cancelled by user' }]);
    // Released, it can be claimed by anyone at once.
    await releaseLease(t.db, runId, 'node-a', 1);
    expect((await claimRun(t.db, runId, { owner: 'node-b', ms: 60_000 }))?.attempt).toBe(2);
  });
});

describe.runIf(process.env.DATABASE_URL)('a PostgreSQL connection that dies mid-transaction', () => {
  it('fails the transaction without taking the process down', async () => {
    const t = await openTestDb('postgres');
    const killer = await t.another();
    try {
      await expect(
        t.db.transaction(async (tx) => {
          const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await killer.query('SELECT pg_terminate_backend($1)', [row!.pid]);
          await tx.query('SELECT 1');
        }),
      ).rejects.toThrow();
      // The pool replaced the broken connection.
      expect(await t.db.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await t.dispose();
    }
  });
});
