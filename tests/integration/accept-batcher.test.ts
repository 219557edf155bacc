// Group commit for accepts on a new thread: concurrent accepts share one statement, and each keeps
// its own outcome (its run and thread, a duplicate key answered as such, a failing row failing alone).
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../src/agents/registry.js';
import { createLogger } from '../../src/log/logger.js';
import type { RunSlot } from '../../src/runs/handoff.js';
import { RunQueue } from '../../src/runs/queue.js';
import { ThreadScheduler } from '../../src/runs/scheduler.js';
import { RunService } from '../../src/runs/service.js';
import { AcceptBatcher } from '../../src/store/accept-batcher.js';
import type { Db } from '../../src/store/db.js';
import type { ClaimedRun, Lease, NewThreadRun } from '../../src/store/run-status.js';
import { getRun } from '../../src/store/runs.js';
import { insertUser } from '../../src/store/users.js';
import { backends } from '../helpers/backends.js';
import { migratedDbPerTest, type TestDb } from '../helpers/db.js';

const lease: Lease = { owner: 'node-a', ms: 60_000 };

/** `db` with its statements counted (what the batcher sends; its other methods pass through). */
function counted(db: Db): { db: Db; statements: string[] } {
  const statements: string[] = [];
  const wrapped: Db = {
    kind: db.kind,
    query: (sql, params) => {
      statements.push(sql);
      return db.query(sql, params);
    },
    exec: (sql) => db.exec(sql),
    simple: (sql) => db.simple(sql),
    transaction: (fn) => db.transaction(fn),
    ping: () => db.ping(),
    close: () => db.close(),
  };
  return { db: wrapped, statements };
}

const accept = (userId: string, requestId: string = randomUUID()): NewThreadRun & { claim: Lease } => ({
  userId,
  requestId,
  runId: randomUUID(),
  threadId: randomUUID(),
  title: `t ${requestId}`,
  agent: 'bench',
  text: `hello ${requestId}`,
  messageId: randomUUID(),
  traceContext: null,
  claim: lease,
});

async function newUsers(db: Db, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  for (const id of ids) await insertUser(db, { id, username: `u-${id}`, passwordHash: 'x' });
  return ids;
}

describe.each(backends)('accept batcher on %s', (backend) => {
  let t!: TestDb;
  migratedDbPerTest(backend, (db) => (t = db));

  it('stores concurrent accepts in fewer statements than accepts, each its own run, thread and message, claimed', async () => {
    const { db, statements } = counted(t.db);
    // One write in flight at a time: the first accept goes alone at once, the other 7 arrive while
    // it is written and go together in the next.
    const batcher = new AcceptBatcher(db, 1);
    const rows = (await newUsers(t.db, 8)).map((u) => accept(u));
    const runs = await Promise.all(rows.map((r) => batcher.store(r)));
    expect(statements).toHaveLength(2);
    for (const [i, r] of rows.entries()) {
      expect(runs[i]).toMatchObject({ id: r.runId, thread_id: r.threadId, user_id: r.userId, status: 'running', attempt: 1, only_run: true, queue_wait_ms: 0 });
    }
    const stored = await t.db.query<{ id: string; thread_id: string; user_id: string; title: string; status: string; lease_owner: string; leased: boolean; input: unknown; content: string; request_run: string }>(
      `SELECT r.id, r.thread_id, th.user_id, th.title, r.status, r.lease_owner, r.lease_expires_at > now() AS leased, r.input, m.content, k.run_id AS request_run
       FROM runs r JOIN threads th ON th.id = r.thread_id JOIN messages m ON m.run_id = r.id
       JOIN request_keys k ON k.user_id = r.user_id AND k.run_id = r.id`,
    );
    expect(stored).toHaveLength(8);
    for (const r of rows) {
      expect(stored.find((s) => s.id === r.runId)).toEqual({
        id: r.runId,
        thread_id: r.threadId,
        user_id: r.userId,
        title: r.title,
        status: 'running',
        lease_owner: 'node-a',
        leased: true,
        input: { text: r.text },
        content: r.text,
        request_run: r.runId,
      });
    }
  });

  it('answers a repeated request key as a duplicate, also when both copies are in one batch: the first copy is stored', async () => {
    const [u, v] = (await newUsers(t.db, 2)) as [string, string];
    const batcher = new AcceptBatcher(t.db, 1);
    const earlier = accept(v, 'before');
    await batcher.store(earlier);
    const first = accept(u, 'same');
    const second = accept(u, 'same');
    const third = accept(u, 'same');
    const again = accept(v, 'before');
    const other = accept(u, 'other');
    // Another user's accept goes alone; the rest wait for it and go together.
    const [, a, b, c, d, e] = await Promise.all([accept(v), first, second, third, again, other].map((r) => batcher.store(r)));
    expect(a?.id).toBe(first.runId);
    expect(b).toBeUndefined();
    expect(c).toBeUndefined();
    expect(d).toBeUndefined();
    expect(e?.id).toBe(other.runId);
    const keys = await t.db.query<{ request_id: string; run_id: string }>('SELECT request_id, run_id FROM request_keys WHERE user_id = $1 ORDER BY request_id', [u]);
    expect(keys).toEqual([
      { request_id: 'other', run_id: other.runId },
      { request_id: 'same', run_id: first.runId },
    ]);
    const lost = [second, third, again];
    expect(await t.db.query('SELECT id FROM runs WHERE id = ANY($1::uuid[])', [lost.map((r) => r.runId)])).toEqual([]);
    expect(await t.db.query('SELECT id FROM threads WHERE id = ANY($1::uuid[])', [lost.map((r) => r.threadId)])).toEqual([]);
  });

  it('fails only the accept whose row the database refuses; the others of its batch are stored', async () => {
    const { db, statements } = counted(t.db);
    const batcher = new AcceptBatcher(db, 1);
    const good = (await newUsers(t.db, 4)).map((u) => accept(u));
    const bad = accept(randomUUID()); // no such user: the foreign keys refuse it
    const results = await Promise.allSettled([good[0]!, good[1]!, bad, good[2]!, good[3]!].map((r) => batcher.store(r)));
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: '23503' });
    // The first alone, the batch of four (refused whole), then each of the four alone.
    expect(statements).toHaveLength(6);
    const stored = await t.db.query<{ id: string }>('SELECT id FROM runs ORDER BY id');
    expect(stored.map((r) => r.id)).toEqual(good.map((r) => r.runId).sort());
    for (const [i, r] of good.entries()) expect(results[i < 2 ? i : i + 1]).toMatchObject({ value: { id: r.runId } });
  });
});

describe.each(backends)('RunService.accept on new threads on %s', (backend) => {
  let t!: TestDb;
  let queue: RunQueue;
  migratedDbPerTest(backend, (db) => (t = db));
  beforeEach(async () => {
    queue = new RunQueue(t.db, createLogger('silent'));
    await queue.start();
  });
  afterEach(async () => {
    await queue.stop();
  });

  /** The service over a worker with `free` slots, recording each handoff; its statements counted. */
  function service(free: number) {
    const started: ClaimedRun[] = [];
    const accepted: string[] = [];
    let released = 0;
    let woken = 0;
    const scheduler = new ThreadScheduler(queue, { publishQueued: () => woken++, publishCancel: () => undefined });
    scheduler.useWorker({
      reserve: (): RunSlot | undefined => (free-- > 0 ? { lease, start: (run) => started.push(run), release: () => void (released++, free++) } : undefined),
      wake: () => woken++,
      abort: () => false,
    });
    const { db, statements } = counted(t.db);
    const agents = new AgentRegistry().addAgent({ name: 'bench', description: 'never runs here', run: async () => ({ text: '' }) });
    const runs = new RunService({
      db,
      bus: { publish: () => undefined, accepted: (_user, runId) => accepted.push(runId) },
      scheduler,
      agents,
      defaultAgent: 'bench',
    });
    return { runs, statements, started, accepted, released: () => released, woken: () => woken };
  }

  const request = (requestId: string) => ({ type: 'agent_request' as const, requestId, input: { text: `hello ${requestId}` } });

  it('stores concurrent claimed accepts together, each started on its own slot; a duplicate in the batch answers the first run and frees its slot', async () => {
    const s = service(10);
    const ids = await newUsers(t.db, 8);
    const results = await Promise.all([...ids.map((u, i) => s.runs.accept(u, request(`r${i}`))), s.runs.accept(ids[3]!, request('r3'))]);
    const inserts = s.statements.filter((q) => q.includes('INSERT INTO request_keys'));
    expect(inserts.length).toBeLessThan(8);
    expect(new Set(results.slice(0, 8).map((r) => r.runId)).size).toBe(8);
    expect(new Set(results.slice(0, 8).map((r) => r.threadId)).size).toBe(8);
    expect(results[8]).toEqual(results[3]);
    // Each handoff as before: the stored run started on the slot it was stored with, the duplicate's slot freed, no job, no wake.
    expect(s.started.map((r) => r.id).sort()).toEqual(results.slice(0, 8).map((r) => r.runId).sort());
    expect(s.started.every((r) => r.status === 'running' && r.attempt === 1 && r.only_run)).toBe(true);
    expect(s.accepted.sort()).toEqual(results.slice(0, 8).map((r) => r.runId).sort());
    expect(s.released()).toBe(1);
    expect(s.woken()).toBe(0);
    for (const [i, r] of results.slice(0, 8).entries()) {
      expect(await getRun(t.db, r.runId)).toMatchObject({ thread_id: r.threadId, user_id: ids[i], status: 'running' });
      expect(await queue.job(r.runId)).toBeNull();
    }
  });

  it('queues the accepts no slot could take, each with its job, beside the claimed ones; a refused claimed one fails alone and frees its slot', async () => {
    const s = service(4);
    const ids = await newUsers(t.db, 5);
    // Four slots, for the first four accepts: the refused one (no such user) is the third, so it
    // is grouped whether one write is in flight at a time (PGlite) or two; a group that fails is
    // stored accept by accept. The last two find no slot and are queued.
    const frames = [ids[0]!, ids[1]!, randomUUID(), ...ids.slice(2)].map((u, i) => s.runs.accept(u, request(`r${i}`)));
    const results = await Promise.allSettled(frames);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: '23503' });
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(s.started.map((r) => r.id).sort()).toEqual(ok.slice(0, 3).map((r) => r.runId).sort());
    expect(s.released()).toBe(1);
    for (const r of ok.slice(0, 3)) expect(await queue.job(r.runId)).toBeNull();
    for (const r of ok.slice(3)) {
      expect((await getRun(t.db, r.runId))?.status).toBe('queued');
      expect(await queue.job(r.runId)).toMatchObject({ state: 'created' });
    }
    expect(s.woken()).toBeGreaterThan(0);
  });
});
