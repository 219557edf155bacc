// PostgreSQL goes away while 1,000 runs, carried by 100 open sockets, are in progress: for 12 s in
// `npm test` (past the 10 s after which a failure that repeats is logged again), for the drill's
// 30 s with `npm run test:outage` (FAULT_OUTAGE_MS=30000; docs/reliability.md's figures).
// During the outage every socket's reads of its runs' logs fail, and so do the runs' appends, the
// lease renewals and the fetches. The server must wait it out quietly: its CPU, its event loop's
// delay and its log lines during the outage are measured, and after it every run completes and
// is delivered exactly once, in order, on sockets that never closed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { faultEnv, report, type FaultEnv } from '../helpers/fault-env.js';
import { countDelivery } from '../helpers/resuming-user.js';
import { until } from '../helpers/wait.js';

const USERS = 100;
const RUNS_PER_USER = 10;
const OUTAGE_MS = Number(process.env.FAULT_OUTAGE_MS ?? 12_000);

/** The process's CPU time so far (user + system), in seconds, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of the whole line; 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

/** The server's event-loop delay since its previous scrape, from /metrics, and how long the scrape took. */
async function scrapeLag(url: string): Promise<{ p99: number; max: number; scrapeMs: number }> {
  const started = performance.now();
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const scrapeMs = performance.now() - started;
  const stat = (s: string) => Number(new RegExp(`^agentwire_event_loop_lag_seconds\\{stat="${s}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99: stat('p99'), max: stat('max'), scrapeMs };
}

describe(`PostgreSQL down for ${OUTAGE_MS / 1000} s under 1,000 carried runs`, () => {
  let env: FaultEnv;
  beforeEach(async () => {
    env = await faultEnv();
  });
  afterEach(async () => {
    await env?.dispose();
  });

  it('the server waits it out quietly, then every run completes, delivered once and in order', { timeout: 180_000 }, async () => {
    const gate = join(env.dir, 'release');
    const node = await env.node({ HOLD_GATE: gate, WORKER_CONCURRENCY: String(USERS * RUNS_PER_USER + 100) });
    const users = await env.users(node.url, USERS);
    await Promise.all(users.map((u) => u.connect(node.wsUrl)));
    await Promise.all(users.flatMap((u) => Array.from({ length: RUNS_PER_USER }, (_, i) => u.request(`hold ${i}`, 'hold'))));
    // In progress: every socket has each of its runs' first two events (started, holding).
    await until(() => users.every((u) => [...u.runs.values()].every((r) => r.lastSeq >= 2)), 'every run to be in progress', 60_000, 50);
    await scrapeLag(node.url); // resets the lag window

    env.cluster.stop();
    const down = Date.now();
    const linesBefore = node.lines.length;
    const cpuBefore = cpuSeconds(node.pid);
    // The runs go on meanwhile: released now, each wants to store its next events.
    writeFileSync(gate, '');
    const lags: Array<{ p99: number; max: number; scrapeMs: number }> = [];
    while (Date.now() - down < OUTAGE_MS) {
      await new Promise((r) => setTimeout(r, 1_000)); // the outage's length is the fault itself
      lags.push(await scrapeLag(node.url));
    }
    const cpuDuring = cpuSeconds(node.pid) - cpuBefore;
    const outageMs = Date.now() - down;
    const outageLines = node.lines.slice(linesBefore);
    env.cluster.start();
    const up = Date.now();

    await Promise.all(users.map((u) => u.allDone()));
    const recoveredMs = Date.now() - up;
    const counts = countDelivery(users);
    const byMessage = new Map<string, number>();
    for (const line of outageLines) {
      let msg = 'non-JSON output';
      try {
        msg = (JSON.parse(line) as { msg?: string }).msg ?? msg;
      } catch {
        // stderr text
      }
      byMessage.set(msg, (byMessage.get(msg) ?? 0) + 1);
    }
    report({
      fault: `PostgreSQL down ${OUTAGE_MS / 1000} s under 1,000 carried runs (100 sockets × 10 runs)`,
      ...counts,
      outageMs,
      cpuDuringOutagePct: Math.round((cpuDuring / (outageMs / 1000)) * 1000) / 10,
      eventLoopLagP99MsMax: Math.round(Math.max(...lags.map((l) => l.p99))),
      eventLoopLagMaxMs: Math.round(Math.max(...lags.map((l) => l.max))),
      metricsScrapeMsMax: Math.round(Math.max(...lags.map((l) => l.scrapeMs))),
      logLinesDuringOutage: outageLines.length,
      logMessages: Object.fromEntries(byMessage),
      allRunsDoneAfterRestartMs: recoveredMs,
      peakRssKb: node.peakRssKb(),
    });
    expect(counts).toEqual({ runs: USERS * RUNS_PER_USER, completed: USERS * RUNS_PER_USER, duplicated: 0, missing: 0, outOfOrder: 0 });
    // Failures that repeat through the outage are logged when they start and then once per
    // interval (10 s), never once per failed read, append, renewal or fetch (before that: some
    // 3,200 lines a second).
    expect(outageLines.length).toBeLessThanOrEqual(100);
    expect(node.child.exitCode).toBeNull();
    expect(users.every((u) => u.client?.closeCode === undefined)).toBe(true);
  });
});
