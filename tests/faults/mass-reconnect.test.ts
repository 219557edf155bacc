// 1,000 client sockets with runs in progress are dropped at once; they all reconnect and resume
// from their last seq. Every socket catches up with no gap and no duplicate.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { faultEnv, report, type FaultEnv } from '../helpers/fault-env.js';
import { pgServerMissing } from '../helpers/pg-cluster.js';
import { ResumingUser, countDelivery } from '../helpers/resuming-user.js';
import { until } from '../helpers/wait.js';

const USERS = 100;
const SOCKETS_PER_USER = 10;

// Skipped, with one line from tests/setup/faults.ts, where PostgreSQL's server binaries are missing.
describe.skipIf(pgServerMissing() !== undefined)('1,000 sockets drop at once', () => {
  let env: FaultEnv;
  beforeEach(async () => {
    env = await faultEnv();
  });
  afterEach(async () => {
    await env?.dispose();
  });

  it('reconnect, resume, and catch up: every run on every socket, once, in order', async () => {
    const node = await env.node({ DRILL_STEP_MS: '400', WORKER_CONCURRENCY: '200' });
    const accounts = await env.users(node.url, USERS);
    // Ten sockets per user, each its own resuming client (as ten tabs would be).
    const sockets = accounts.flatMap((a) =>
      Array.from({ length: SOCKETS_PER_USER }, () => new ResumingUser(a.userId, a.token)),
    );
    for (let i = 0; i < sockets.length; i += 100) await Promise.all(sockets.slice(i, i + 100).map((s) => s.connect(node.wsUrl)));
    // One run per user, started from its first socket: all ten sockets carry it.
    const runIds = await Promise.all(accounts.map((_, i) => sockets[i * SOCKETS_PER_USER]!.request(`drill ${i}`, 'drill')));
    await until(async () => {
      const { rows } = await env.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM runs WHERE last_seq >= 3 AND status = 'running'`);
      return rows[0]!.n === USERS;
    }, 'every run to be under way');

    for (const s of sockets) s.drop();
    const { rows: atDrop } = await env.sql.query<{ id: string; last_seq: number }>('SELECT id, last_seq FROM runs');
    const storedAtDrop = new Map(atDrop.map((r) => [r.id, r.last_seq]));

    const reconnectStart = Date.now();
    const caughtUpMs: number[] = [];
    await Promise.all(
      sockets.map(async (s) => {
        await s.connect(node.wsUrl);
        // Caught up: this socket has every event that was stored when the sockets dropped.
        await until(
          () => [...s.runs.entries()].every(([runId, r]) => r.lastSeq >= (storedAtDrop.get(runId) ?? 0)),
          'a socket to catch up',
          60_000,
          5,
        );
        caughtUpMs.push(Date.now() - reconnectStart);
      }),
    );
    await Promise.all(sockets.map((s) => s.allDone()));
    caughtUpMs.sort((a, b) => a - b);
    const counts = countDelivery(sockets);
    report({
      fault: '1,000 sockets dropped at once, reconnect and resume',
      sockets: sockets.length,
      ...counts,
      caughtUpP50Ms: caughtUpMs[Math.floor(caughtUpMs.length * 0.5)],
      caughtUpP99Ms: caughtUpMs[Math.floor(caughtUpMs.length * 0.99)],
      caughtUpAllMs: caughtUpMs.at(-1),
      peakRssKb: node.peakRssKb(),
    });
    expect(runIds).toHaveLength(USERS);
    expect(counts).toEqual({ runs: USERS * SOCKETS_PER_USER, completed: USERS * SOCKETS_PER_USER, duplicated: 0, missing: 0, outOfOrder: 0 });
  });
});
