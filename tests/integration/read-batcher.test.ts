// Grouped reads for a burst of reconnects: the log reads and ownership checks that arrive while one
// is in flight share the next statement, and each caller gets its own answer (its run, after its
// seq, at most its limit; `not_found` for a run that is not its own).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../src/agents/registry.js';
import { createLogger } from '../../src/log/logger.js';
import type { RunEvent } from '../../src/protocol/events.js';
import { RunQueue } from '../../src/runs/queue.js';
import { ThreadScheduler } from '../../src/runs/scheduler.js';
import { RunService } from '../../src/runs/service.js';
import type { Db } from '../../src/store/db.js';
import { appendEvent } from '../../src/store/event-log.js';
import { ReadBatcher, readEventsMany, getRunsMany, groupedReads, tokenStatesMany } from '../../src/store/read-batcher.js';
import { insertNewThreadRun } from '../../src/store/run-status.js';
import { sessionRuns } from '../../src/store/sessions.js';
import { insertUser, revokeTokens } from '../../src/store/users.js';
import { backends } from '../helpers/backends.js';
import { migratedDbPerTest, type TestDb } from '../helpers/db.js';

/** `db` with its statements counted (what the readers send; its other methods pass through). */
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

async function newUser(db: Db): Promise<string> {
  const id = randomUUID();
  await insertUser(db, { id, username: `u-${id}`, passwordHash: 'x' });
  return id;
}

/** A queued run of `userId` with `events` events stored (seq 1..events). */
async function runWithEvents(db: Db, userId: string, events: number): Promise<string> {
  const runId = randomUUID();
  const requestId = randomUUID();
  await insertNewThreadRun(db, { userId, requestId, runId, threadId: randomUUID(), title: 't', agent: 'bench', text: 'hi', messageId: randomUUID() });
  for (let seq = 1; seq <= events; seq++) {
    const event = { type: 'output_delta', runId, seq, at: new Date().toISOString(), text: `e${seq}` } as unknown as RunEvent;
    await appendEvent(db, { event, attempt: 0, json: JSON.stringify(event) });
  }
  return runId;
}

const seqs = (page: Array<{ event: RunEvent }>) => page.map((s) => [s.event.runId, s.event.seq]);

describe.each(backends)('grouped reads on %s', (backend) => {
  let t!: TestDb;
  migratedDbPerTest(backend, (db) => (t = db));

  it('reads the pages of concurrent cursors in one statement, each its own run, after its seq, at most its limit', async () => {
    const user = await newUser(t.db);
    const [a, b, c] = [await runWithEvents(t.db, user, 5), await runWithEvents(t.db, user, 3), await runWithEvents(t.db, user, 0)];
    const { db, statements } = counted(t.db);
    // One read in flight at a time: the first goes alone at once, the other 7 arrive while it is
    // read and go together in the next statement.
    const reader = new ReadBatcher((reads: Parameters<typeof readEventsMany>[1]) => readEventsMany(db, reads), 1, 100);
    const pages = await Promise.all(
      [
        { runId: a, afterSeq: 0, limit: 256 },
        { runId: a, afterSeq: 2, limit: 256 },
        { runId: a, afterSeq: 1, limit: 2 },
        { runId: b, afterSeq: 3, limit: 256 },
        { runId: b, afterSeq: 0, limit: 1 },
        { runId: c, afterSeq: 0, limit: 256 },
        { runId: randomUUID(), afterSeq: 0, limit: 256 },
        { runId: 'not-a-uuid', afterSeq: 0, limit: 256 },
      ].map((r) => reader.load(r)),
    );
    expect(statements).toHaveLength(2);
    expect(pages.map(seqs)).toEqual([
      [[a, 1], [a, 2], [a, 3], [a, 4], [a, 5]],
      [[a, 3], [a, 4], [a, 5]],
      [[a, 2], [a, 3]],
      [],
      [[b, 1]],
      [],
      [],
      [],
    ]);
    // Each page carries its events' wire text.
    expect(JSON.parse(pages[4]![0]!.json)).toMatchObject({ runId: b, seq: 1, text: 'e1' });
  });

  it('checks the ownership of concurrent resumes in one statement: not_found for a run of another user or none', async () => {
    const queue = new RunQueue(t.db, createLogger('silent'));
    await queue.start();
    try {
      const [me, other] = [await newUser(t.db), await newUser(t.db)];
      const mine = [await runWithEvents(t.db, me, 2), await runWithEvents(t.db, me, 1)];
      const theirs = await runWithEvents(t.db, other, 1);
      const { db, statements } = counted(t.db);
      const scheduler = new ThreadScheduler(queue, { publishQueued: () => undefined, publishCancel: () => undefined });
      const agents = new AgentRegistry().addAgent({ name: 'bench', description: 'never runs here', run: async () => ({ text: '' }) });
      const runs = new RunService({ db, bus: { publish: () => undefined, accepted: () => undefined }, scheduler, agents, defaultAgent: 'bench' });
      const asked = [mine[0]!, mine[1]!, theirs, randomUUID(), 'nope', mine[0]!.toUpperCase()];
      const answers = await Promise.allSettled(asked.map((id) => runs.ownRun(me, id)));
      // The service's readers keep one statement in flight on PGlite, two on a pool: the first one
      // (or two) go alone at once, the rest together in the next.
      expect(statements).toHaveLength(t.db.kind === 'pg' ? 3 : 2);
      expect(answers.map((r) => (r.status === 'fulfilled' ? r.value.id : (r.reason as { code?: string }).code))).toEqual([mine[0], mine[1], 'not_found', 'not_found', 'not_found', mine[0]]);
      const first = answers[0]!;
      expect(first.status === 'fulfilled' && first.value).toMatchObject({ user_id: me, last_seq: 2 });
      // The other user's run is its owner's.
      expect((await runs.ownRun(other, theirs)).id).toBe(theirs);
    } finally {
      await queue.stop();
    }
  });

  it('fails every read a failed statement carried, and the next reads go out again', async () => {
    const user = await newUser(t.db);
    const a = await runWithEvents(t.db, user, 2);
    let fail = true;
    const reader = new ReadBatcher(
      async (ids: readonly string[]) => {
        if (fail) throw new Error('database unreachable', { cause: new Error('ECONNREFUSED') });
        return getRunsMany(t.db, ids);
      },
      1,
      100,
    );
    const failed = await Promise.allSettled([reader.load(a), reader.load(a), reader.load(a)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    fail = false;
    expect((await reader.load(a))?.last_seq).toBe(2);
  });

  it('folds the database clock into the session snapshot: one statement, also for a user with no run', async () => {
    const [busy, idle] = [await newUser(t.db), await newUser(t.db)];
    const older = await runWithEvents(t.db, busy, 1);
    const newer = await runWithEvents(t.db, busy, 0);
    const { db, statements } = counted(t.db);
    const [clock] = await t.db.query<{ now: Date | string }>('SELECT now() AS now');
    const snapshot = await sessionRuns(db, busy);
    expect(statements).toHaveLength(1);
    expect(snapshot.asOf).toBeGreaterThanOrEqual(new Date(clock!.now).getTime());
    expect(snapshot.rows.map((r) => r.id)).toEqual([newer, older]);
    expect(snapshot.rows[1]).toEqual({ id: older, thread_id: expect.any(String), status: 'queued', last_seq: 1, acked_seq: 0, waiting_for: null });
    const none = await sessionRuns(db, idle);
    expect(none.rows).toEqual([]);
    expect(Number.isFinite(none.asOf)).toBe(true);
  });

  it('reads the token states of concurrent upgrades in one statement, each its own user', async () => {
    const [a, b] = [await newUser(t.db), await newUser(t.db)];
    await revokeTokens(t.db, b);
    const { db, statements } = counted(t.db);
    const reader = new ReadBatcher((ids: readonly string[]) => tokenStatesMany(db, ids), 1, 100);
    const states = await Promise.all([a, b, a, randomUUID(), 'not-a-uuid', b.toUpperCase()].map((id) => reader.load(id)));
    expect(statements).toHaveLength(2);
    expect(states.map((s) => s?.tokenVersion)).toEqual([0, 1, 0, undefined, undefined, 1]);
    expect(states[1]!.validAfter).toBeGreaterThan(0);
    expect(states[0]!.validAfter).toBe(0);
  });

  it('shares one set of readers per database handle', () => {
    expect(groupedReads(t.db)).toBe(groupedReads(t.db));
  });
});
