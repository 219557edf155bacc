// A run's non-terminal events are pipelined (src/runs/recorder.ts): accepted at the call, stored by
// the run's next write together with the events accepted beside them, announced only once stored.
// Run on PGlite and on PostgreSQL.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/protocol/events.js';
import { IllegalEventError, RunRecorder } from '../../src/runs/recorder.js';
import { AppendBatcher } from '../../src/store/append-batcher.js';
import type { Db } from '../../src/store/db.js';
import { readEvents, StaleAttemptError } from '../../src/store/event-log.js';
import { claimRun, insertRun } from '../../src/store/run-status.js';
import { insertThread } from '../../src/store/threads.js';
import { insertUser } from '../../src/store/users.js';
import { backends } from '../helpers/backends.js';
import { migratedDbPerTest, type TestDb } from '../helpers/db.js';

async function seedRun(db: Db) {
  const userId = randomUUID();
  const threadId = randomUUID();
  const runId = randomUUID();
  await insertUser(db, { id: userId, username: `u-${userId}`, passwordHash: 'x' });
  await insertThread(db, { id: threadId, userId, title: 't' });
  await insertRun(db, { id: runId, threadId, userId, agent: 'analyst', input: { text: 'hi' }, status: 'queued' });
  const run = await claimRun(db, runId);
  return { userId, threadId, runId, attempt: run!.attempt };
}

/** The same database, counting the statements sent through it. */
function counting(db: Db): { db: Db; statements: string[] } {
  const statements: string[] = [];
  const proxy = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'query') return (sql: string, params?: unknown[]) => (statements.push(sql), target.query(sql, params));
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { db: proxy, statements };
}

const thinking = (text: string) => ({ type: 'agent_thinking' as const, text });

describe.each(backends)('pipelined events on %s', (backend) => {
  let t!: TestDb;
  migratedDbPerTest(backend, (db) => (t = db));

  it('stores a run\'s consecutive events in one write, in seq order, and announces them only once stored', async () => {
    const r = await seedRun(t.db);
    const c = counting(t.db);
    const published: RunEvent[] = [];
    const rec = new RunRecorder({ runId: r.runId, threadId: r.threadId, userId: r.userId }, r.attempt, c.db, { publish: (_u, s) => published.push(s.event) });
    // Accepted at once, seqs given in call order; nothing is written or sent yet.
    expect((await rec.record({ type: 'agent_started', agent: 'analyst', input: { text: 'hi' } })).seq).toBe(1);
    expect((await rec.record(thinking('one'))).seq).toBe(2);
    expect((await rec.record(thinking('two'))).seq).toBe(3);
    expect(published).toEqual([]);
    // The durable append goes in the same write as the three before it.
    const exec = await rec.append({ type: 'tool_executing', toolCallId: 'c1', tool: 'usage_summary', args: {} });
    expect(exec.seq).toBe(4);
    expect(c.statements).toHaveLength(1);
    expect(published.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    const stored = (await readEvents(t.db, r.runId, 0)).map((s) => s.event);
    expect(stored.map((e) => [e.seq, e.type])).toEqual([[1, 'agent_started'], [2, 'agent_thinking'], [3, 'agent_thinking'], [4, 'tool_executing']]);
    // The terminal event waits for what was accepted before it, and is stored after it.
    await rec.record({ type: 'tool_completed', toolCallId: 'c1', tool: 'usage_summary', ok: true, result: 1, durationMs: 0 });
    await rec.record(thinking('three'));
    await rec.append({ type: 'agent_completed', text: 'done', durationMs: 1 });
    expect((await readEvents(t.db, r.runId, 0)).map((s) => s.event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(published.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const [row] = await t.db.query<{ last_seq: number; status: string }>('SELECT last_seq, status FROM runs WHERE id = $1', [r.runId]);
    expect(row).toEqual({ last_seq: 7, status: 'completed' });
  });

  it('refuses an illegal event at its call, before the events accepted ahead of it are stored', async () => {
    const r = await seedRun(t.db);
    const published: RunEvent[] = [];
    const rec = new RunRecorder({ runId: r.runId, threadId: r.threadId, userId: r.userId }, r.attempt, t.db, { publish: (_u, s) => published.push(s.event) });
    await rec.record({ type: 'agent_started', agent: 'analyst', input: { text: 'hi' } });
    // No tool call is open: its completion is refused at once, with nothing stored yet.
    await expect(rec.record({ type: 'tool_completed', toolCallId: 'nope', tool: 'x', ok: true, result: 1, durationMs: 0 })).rejects.toBeInstanceOf(IllegalEventError);
    expect(published).toEqual([]);
    await rec.append(thinking('after'));
    expect((await readEvents(t.db, r.runId, 0)).map((s) => [s.event.seq, s.event.type])).toEqual([[1, 'agent_started'], [2, 'agent_thinking']]);
  });

  it('surfaces a failed write at the next call, sends nothing of it, and rolls back to what is stored', async () => {
    const r = await seedRun(t.db);
    const published: RunEvent[] = [];
    const rec = new RunRecorder({ runId: r.runId, threadId: r.threadId, userId: r.userId }, r.attempt, t.db, { publish: (_u, s) => published.push(s.event) });
    await rec.append({ type: 'agent_started', agent: 'analyst', input: { text: 'hi' } });
    // Another attempt takes the run over: this one's next write is refused by its fence.
    await t.db.query('UPDATE runs SET attempt = attempt + 1 WHERE id = $1', [r.runId]);
    await rec.record(thinking('lost 1'));
    await rec.record(thinking('lost 2'));
    await rec.settled();
    expect(published.map((e) => e.seq)).toEqual([1]);
    expect(rec.lastSeq).toBe(1);
    await expect(rec.record(thinking('next'))).rejects.toBeInstanceOf(StaleAttemptError);
    expect((await readEvents(t.db, r.runId, 0)).map((s) => s.event.seq)).toEqual([1]);
  });

  it('surfaces a failed write at the run\'s end: the terminal event is not stored after it', async () => {
    const r = await seedRun(t.db);
    const published: RunEvent[] = [];
    const rec = new RunRecorder({ runId: r.runId, threadId: r.threadId, userId: r.userId }, r.attempt, t.db, { publish: (_u, s) => published.push(s.event) });
    await t.db.query('UPDATE runs SET attempt = attempt + 1 WHERE id = $1', [r.runId]);
    await rec.record({ type: 'agent_started', agent: 'analyst', input: { text: 'hi' } });
    await rec.record(thinking('lost'));
    await expect(rec.append({ type: 'agent_completed', text: 'done', durationMs: 1 })).rejects.toBeInstanceOf(StaleAttemptError);
    expect(published).toEqual([]);
    expect(await readEvents(t.db, r.runId, 0)).toEqual([]);
    expect(rec.finished).toBe(false);
  });

  it('stores groups of several runs in one statement, each run fenced by its attempt and its seqs', async () => {
    const runs = await Promise.all(Array.from({ length: 5 }, () => seedRun(t.db)));
    const batcher = new AppendBatcher(t.db, 1);
    const ev = (run: { runId: string; threadId: string }, seq: number): RunEvent =>
      seq === 1
        ? { type: 'agent_started', runId: run.runId, threadId: run.threadId, seq, ts: new Date().toISOString(), agent: 'analyst', input: { text: 'hi' } }
        : { type: 'agent_thinking', runId: run.runId, threadId: run.threadId, seq, ts: new Date().toISOString(), text: `step ${seq}` };
    const put = (run: (typeof runs)[0], seqs: number[], attempt = run.attempt) =>
      batcher.appendRun(seqs.map((seq) => ({ event: ev(run, seq), attempt, json: JSON.stringify(ev(run, seq)) })));
    const [a, b, c, d, e] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
    const first = put(a, [1]); // goes alone; the rest wait and go together
    const results = await Promise.allSettled([first, put(b, [1, 2, 3]), put(c, [1, 2], c.attempt + 1), put(d, [2, 3]), put(e, [1, 3])]);
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
    expect(results.filter((x) => x.status === 'rejected').every((x) => x.reason instanceof StaleAttemptError)).toBe(true);
    for (const [run, seqs] of [[a, [1]], [b, [1, 2, 3]], [c, []], [d, []], [e, []]] as const) {
      expect((await readEvents(t.db, run.runId, 0)).map((x) => x.event.seq)).toEqual(seqs);
      const [row] = await t.db.query<{ last_seq: number }>('SELECT last_seq FROM runs WHERE id = $1', [run.runId]);
      expect(row?.last_seq).toBe(seqs.length);
    }
  });
});
