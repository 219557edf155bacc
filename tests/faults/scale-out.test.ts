// Three processes on one PostgreSQL: a gateway, a process that does both, and a worker. Users
// hold sockets on two processes; runs execute elsewhere than the socket that asked; a cancel
// crosses processes; then the "both" process is SIGKILLed: its runs finish on the worker and
// its clients reconnect to the gateway and resume, with nothing lost or repeated anywhere.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { faultEnv, report, type FaultEnv } from '../helpers/fault-env.js';
import { pgServerMissing } from '../helpers/pg-cluster.js';
import { ResumingUser, countDelivery } from '../helpers/resuming-user.js';
import { until } from '../helpers/wait.js';

const USERS = 12;

// Skipped, with one line from tests/setup/faults.ts, where PostgreSQL's server binaries are missing.
describe.skipIf(pgServerMissing() !== undefined)('scale-out: three processes, one PostgreSQL', () => {
  let env: FaultEnv;
  beforeEach(async () => {
    env = await faultEnv();
  });
  afterEach(async () => {
    await env?.dispose();
  });

  it('spreads runs, delivers to every socket of the owner on every process, cancels across processes, survives a SIGKILL', async () => {
    const common = { DRILL_STEP_MS: '150', LEASE_MS: '2000' };
    const gateway = await env.node({ ...common, ROLE: 'gateway', NODE_ID: 'gateway-a' });
    const both = await env.node({ ...common, ROLE: 'both', NODE_ID: 'both-b' });
    // A small worker: most runs land on the other process, so the kill below orphans many.
    const worker = await env.node({ ...common, ROLE: 'worker', NODE_ID: 'worker-c', WORKER_CONCURRENCY: '4' });

    const accounts = await env.users(gateway.url, USERS);
    // Each user: one socket on the gateway, one on the "both" process.
    const onA = accounts.map((a) => new ResumingUser(a.userId, a.token));
    const onB = accounts.map((a) => new ResumingUser(a.userId, a.token));
    await Promise.all([...onA.map((s) => s.connect(gateway.wsUrl)), ...onB.map((s) => s.connect(both.wsUrl))]);

    // Phase 1: two runs asked on the gateway, one on the other process, per user.
    const runs = await Promise.all(
      accounts.flatMap((_, i) => [
        onA[i]!.request('drill a1', 'drill'),
        onA[i]!.request('drill a2', 'drill'),
        onB[i]!.request('drill b1', 'drill'),
      ]),
    );
    // A cancel sent to the gateway reaches whichever process executes the run.
    const victimRun = runs[0]!;
    await onA[0]!.client!.waitFor((f) => f.runId === victimRun && f.type === 'tool_executing');
    onA[0]!.client!.send({ type: 'cancel_run', runId: victimRun });
    await Promise.all([...onA, ...onB].map((s) => s.allDone()));
    const { rows: placement } = await env.sql.query<{ owner: string; n: number }>(
      `SELECT lease_owner AS owner, count(*)::int AS n FROM runs GROUP BY lease_owner ORDER BY lease_owner`,
    );
    const phase1 = countDelivery([...onA, ...onB]);

    // Phase 2: runs in flight, then the "both" process is killed.
    const phase2Runs = await Promise.all(accounts.map((_, i) => onA[i]!.request('drill c1', 'drill')));
    await until(async () => {
      const { rows } = await env.sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM runs WHERE id = ANY($1::uuid[]) AND status = 'running' AND last_seq >= 2`,
        [phase2Runs],
      );
      return rows[0]!.n === USERS;
    }, 'phase 2 runs to be under way');
    // And each seen on its owner's other socket: a socket learns of a run its user asked elsewhere
    // only from the run's frames, and one that ends while the socket reconnects is not in its
    // session_ready (the client reads it from the history). Without this wait a run of the worker
    // could end unseen by that socket.
    await until(() => phase2Runs.every((id, i) => onB[i]!.runs.has(id)), "phase 2 runs to reach their owners' other sockets");
    const { rows: heldByVictim } = await env.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM runs WHERE id = ANY($1::uuid[]) AND lease_owner = 'both-b'`,
      [phase2Runs],
    );
    both.kill('SIGKILL');
    await both.exited;
    // Its clients reconnect to the gateway and resume.
    await Promise.all(onB.map((s) => s.client!.closed));
    await Promise.all(onB.map((s) => s.connect(gateway.wsUrl)));
    await Promise.all([...onA, ...onB].map((s) => s.allDone()));

    const counts = countDelivery([...onA, ...onB]);
    const { rows: finalPlacement } = await env.sql.query<{ owner: string; n: number }>(
      `SELECT lease_owner AS owner, count(*)::int AS n FROM runs WHERE id = ANY($1::uuid[]) GROUP BY lease_owner`,
      [phase2Runs],
    );
    report({
      fault: 'three processes; SIGKILL the one that serves sockets and runs',
      processes: 3,
      users: USERS,
      socketRuns: counts.runs,
      completed: counts.completed,
      cancelled: counts.runs - counts.completed,
      duplicated: counts.duplicated,
      missing: counts.missing,
      outOfOrder: counts.outOfOrder,
      phase1Placement: Object.fromEntries(placement.map((r) => [r.owner, r.n])),
      phase2HeldByKilledProcess: heldByVictim[0]!.n,
      phase2FinishedOn: Object.fromEntries(finalPlacement.map((r) => [r.owner, r.n])),
    });
    expect(heldByVictim[0]!.n).toBeGreaterThan(0);

    // Every run reached both of its owner's sockets, whichever process they were on.
    expect(phase1.runs).toBe(USERS * 3 * 2);
    expect(counts.runs).toBe(USERS * 4 * 2);
    expect({ duplicated: counts.duplicated, missing: counts.missing, outOfOrder: counts.outOfOrder }).toEqual({ duplicated: 0, missing: 0, outOfOrder: 0 });
    // Exactly the cancelled run (seen on two sockets) did not complete.
    expect(counts.completed).toBe(counts.runs - 2);
    expect(onA[0]!.runs.get(victimRun)?.terminalType).toBe('agent_cancelled');
    expect(onB[0]!.runs.get(victimRun)?.terminalType).toBe('agent_cancelled');
    // Runs executed on the two processes that work, never on the gateway.
    expect(placement.map((r) => r.owner).sort()).toEqual(['both-b', 'worker-c']);
    // Phase 2: every run ends on the surviving worker.
    expect(finalPlacement).toEqual([{ owner: 'worker-c', n: USERS }]);
    // No user ever saw another's run.
    for (let i = 0; i < USERS; i++) {
      const own = new Set([...onA[i]!.runs.keys()]);
      expect([...onB[i]!.runs.keys()].every((r) => own.has(r))).toBe(true);
    }
    expect(gateway.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
  });
});
