// Cancel, interrupt (onBusy "interrupt") and completion of the same thread's run, at the same
// moment, many times over. Every transaction that touches a thread and its runs takes their locks
// in one order (docs/reliability.md): done differently, PostgreSQL finds deadlocks here and aborts
// one of the transactions, which shows as an error answer, a log line, or a run that has to be
// attempted again.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { Gates } from '../helpers/agents.js';
import { backends } from '../helpers/backends.js';
import type { Frame } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const ROUNDS = 40;

// With free worker slots, a run that gets the thread's turn is stored claimed by the worker; with
// one slot, held by the run that is ending, it is queued with a pg-boss job and fetched.
type Case = { backend: (typeof backends)[number]; slots: string; env: Record<string, string> };
const cases = backends.flatMap((backend): Case[] => [
  { backend, slots: 'free slots', env: {} },
  { backend, slots: 'one slot', env: { WORKER_CONCURRENCY: '1' } },
]);

describe.each(cases)('one thread, racing cancel, interrupt and completion, on $backend with $slots', ({ backend, env }) => {
  let server: TestServer;
  const gates = new Gates();
  const lines: Array<{ level: string; msg: string; err?: { message?: string; code?: string } }> = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as (typeof lines)[number]);
        done();
      },
    });
    server = await startServer(backend, { env, agents: [gates.agent()], log: createLogger('warn', sink) });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(`${ROUNDS} rounds: no error answer, no failed transaction, every run ends once on its first attempt`, async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const first = await c.request('race 0', { agent: 'gated' });
    expect(first.type).toBe('run_accepted');
    const threadId = first.threadId as string;
    const runIds = [first.runId as string];
    for (let i = 1; i <= ROUNDS; i++) {
      const prev = runIds[i - 1]!;
      await gates.reached(`race ${i - 1}`);
      // The three at once, in an order that changes from round to round.
      const complete = () => gates.release(`race ${i - 1}`);
      const cancel = () => c.send({ type: 'cancel_run', runId: prev });
      let accepted: Promise<Frame> | undefined;
      const interrupt = () => (accepted = c.request(`race ${i}`, { agent: 'gated', threadId, onBusy: 'interrupt' }));
      const orders = [
        [complete, cancel, interrupt],
        [interrupt, complete, cancel],
        [cancel, interrupt, complete],
        [complete, interrupt, cancel],
        [interrupt, cancel, complete],
        [cancel, complete, interrupt],
      ];
      for (const act of orders[i % orders.length]!) act();
      const answer = await accepted!;
      expect(answer, `round ${i}`).toMatchObject({ type: 'run_accepted', threadId });
      runIds.push(answer.runId as string);
      await c.runEvents(prev);
    }
    await gates.reached(`race ${ROUNDS}`);
    gates.release(`race ${ROUNDS}`);
    await c.runEvents(runIds.at(-1)!);

    expect(c.frames.filter((f) => f.type === 'error')).toEqual([]);
    for (const runId of runIds) {
      // A cancel that arrives after the end is answered with the terminal event again (PROTOCOL): same seq.
      const terminals = c.eventsOf(runId).filter((e) => ['agent_completed', 'agent_error', 'agent_cancelled'].includes(e.type));
      expect(new Set(terminals.map((e) => `${e.seq} ${e.type}`)).size, runId).toBe(1);
      expect(['agent_completed', 'agent_cancelled']).toContain(terminals[0]!.type);
    }
    const rows = await server.runtime.database.query<{ status: string; attempt: number; n: number }>(
      `SELECT status, attempt, count(*)::int AS n FROM runs WHERE thread_id = $1 GROUP BY status, attempt ORDER BY status`,
      [threadId],
    );
    // Both outcomes met the race; none needed a second attempt (a deadlocked terminal transaction would).
    expect(rows.every((r) => r.attempt === 1 && ['completed', 'cancelled'].includes(r.status)), JSON.stringify(rows)).toBe(true);
    expect(rows.reduce((n, r) => n + r.n, 0)).toBe(ROUNDS + 1);
    expect(lines.filter((l) => l.level === 'error' || /deadlock/i.test(JSON.stringify(l)))).toEqual([]);
  });
});
