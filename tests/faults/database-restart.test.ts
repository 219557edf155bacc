// PostgreSQL goes away mid-run and comes back: /readyz says 503 meanwhile, requests get
// `unavailable` (no hang, no crash), nothing stored is lost, and every run completes after the
// database returns, delivered once and in order on sockets that never closed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { faultEnv, report, type FaultEnv } from '../helpers/fault-env.js';
import { pgServerMissing } from '../helpers/pg-cluster.js';
import { countDelivery } from '../helpers/resuming-user.js';
import { until } from '../helpers/wait.js';

const USERS = 5;
const RUNS_PER_USER = 2;

// Skipped, with one line from tests/setup/faults.ts, where PostgreSQL's server binaries are missing.
describe.skipIf(pgServerMissing() !== undefined)('PostgreSQL restarts mid-run', () => {
  let env: FaultEnv;
  beforeEach(async () => {
    env = await faultEnv();
  });
  afterEach(async () => {
    await env?.dispose();
  });

  it('answers unavailable while it is down and finishes every run after it returns', async () => {
    const node = await env.node({ DRILL_STEP_MS: '250' });
    const users = await env.users(node.url, USERS);
    await Promise.all(users.map((u) => u.connect(node.wsUrl)));
    await Promise.all(users.flatMap((u) => Array.from({ length: RUNS_PER_USER }, (_, i) => u.request(`drill ${i}`, 'drill'))));
    await Promise.all(users.map((u) => u.client!.waitFor((f) => f.type === 'tool_executing')));
    const { rows: before } = await env.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM run_events');

    const down = Date.now();
    env.cluster.stop();
    const readyz = () => fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status);
    await until(async () => (await readyz()) === 503, '/readyz to answer 503');
    // Requests meet `unavailable`, quickly: a bounded wait, never a hang.
    const login = await fetch(`${node.url}/v1/auth/login`, {
      method: 'POST',
      body: JSON.stringify({ username: 'anyone', password: 'whatever long' }),
      signal: AbortSignal.timeout(10_000),
    });
    const loginBody = (await login.json()) as { error: { code: string } };
    const socketAnswer = await users[0]!.client!.request('while down', { agent: 'drill' });
    // Down long enough that running runs hit it: their workers fail to renew leases meanwhile.
    await until(() => node.lines.some((l) => l.includes('renewing leases failed')), 'a lease renewal to meet the outage');

    env.cluster.start();
    await until(async () => (await readyz()) === 200, '/readyz to answer 200 again', 60_000);
    const outageMs = Date.now() - down;
    await Promise.all(users.map((u) => u.allDone()));
    const recoveredMs = Date.now() - down;

    const counts = countDelivery(users);
    const { rows: after } = await env.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM run_events');
    report({ fault: 'PostgreSQL restarted mid-run', ...counts, outageMs, allRunsDoneMs: recoveredMs, peakRssKb: node.peakRssKb() });
    expect(login.status).toBe(503);
    expect(loginBody.error.code).toBe('unavailable');
    expect(socketAnswer).toMatchObject({ type: 'error', code: 'unavailable' });
    expect(counts).toEqual({ runs: USERS * RUNS_PER_USER, completed: USERS * RUNS_PER_USER, duplicated: 0, missing: 0, outOfOrder: 0 });
    expect(after[0]!.n).toBeGreaterThan(before[0]!.n);
    // The process lived through it, and its sockets never closed.
    expect(node.child.exitCode).toBeNull();
    expect(users.every((u) => u.client?.closeCode === undefined)).toBe(true);
  });
});
