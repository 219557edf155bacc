// `npm run bench:handoff`: the direct hand-off on one process, request → run_accepted →
// agent_started, for one socket asking one run at a time (nothing else in flight) and for 20
// sockets in a closed loop. On PostgreSQL and on PGlite.
//   npm run bench:handoff -- [--runs 300] [--rounds 3] [--base /path/to/other/checkout]
// With --base, the same measurements run against the servers of another checkout (e.g. the
// commit before a change, unpacked with `git archive`), interleaved round by round with this
// one's, so both meet the same machine noise. Results: bench/results/handoff-<commit>.json.
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LoadSocket, openMany } from './lib/load.js';
import { latencySummary, median, round } from './lib/stats.js';
import { launch, type Target } from './lib/targets.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    base: { type: 'string' },
  },
});
const RUNS = Number(values.runs);
const ROUNDS = Number(values.rounds);
const WARMUP = 30;
const here = join(import.meta.dirname, '..');
const roots: Array<{ label: string; root: string }> = [{ label: 'this checkout', root: here }];
if (values.base) roots.unshift({ label: `base (${values.base})`, root: values.base });

/** One socket, one run at a time: the hand-off's latency with nothing queued beside it. */
async function sequential(t: Target) {
  const [token] = await t.users(1);
  const s = await LoadSocket.open(t.server.wsUrl, token);
  const accepted: number[] = [];
  const started: number[] = [];
  let mark = { sent: 0, accepted: 0, started: 0 };
  let resolve: () => void = () => undefined;
  s.onFrame = (f, at) => {
    if (f.type === 'run_accepted') mark.accepted = at;
    if (f.type === 'agent_started') mark.started = at;
  };
  s.onRunDone = () => resolve();
  for (let i = 0; i < WARMUP + RUNS; i++) {
    mark = { sent: performance.now(), accepted: 0, started: 0 };
    const done = new Promise<void>((r) => (resolve = r));
    s.request('golden', t.agent);
    await done;
    if (i < WARMUP) continue;
    accepted.push(mark.accepted - mark.sent);
    started.push(mark.started - mark.sent);
  }
  s.close();
  return { toAccepted: latencySummary(accepted), toStarted: latencySummary(started) };
}

/** 20 sockets, each asking again when its run ends: the hand-off while other runs execute. */
async function closed(t: Target, seconds = 5) {
  const tokens = await t.users(20);
  const sockets = await openMany(20, (i) => LoadSocket.open(t.server.wsUrl, tokens[i]));
  const started: number[] = [];
  const from = performance.now() + 1_000;
  const end = from + seconds * 1000;
  let active = sockets.length;
  await new Promise<void>((resolve) => {
    for (const s of sockets) {
      s.onRunDone = (r) => {
        const now = performance.now();
        if (r.sentAt! >= from && now <= end && r.startedAt !== undefined) started.push(r.startedAt - r.sentAt!);
        if (now < end) s.request('golden', t.agent);
        else if (--active === 0) resolve();
      };
      s.request('golden', t.agent);
    }
  });
  for (const s of sockets) s.close();
  return { runsPerSec: round(started.length / seconds), toStarted: latencySummary(started) };
}

type Row = { root: string; backend: string; round: number } & Record<string, unknown>;
const rows: Row[] = [];
for (let r = 1; r <= ROUNDS; r++) {
  for (const backend of ['pg', 'pglite'] as const) {
    for (const { label, root } of roots) {
      process.env.BENCH_SERVER_ROOT = root;
      const t = await launch(backend, { agent: 'bench' });
      try {
        const row: Row = { root: label, backend, round: r, sequential: await sequential(t), closedLoop20: await closed(t) };
        rows.push(row);
        console.log(JSON.stringify(row));
      } finally {
        await t.dispose();
      }
    }
  }
}

const pick = (xs: Row[], f: (x: Row) => number) => round(median(xs.map(f)));
const summary = roots.flatMap(({ label }) =>
  (['pg', 'pglite'] as const).map((backend) => {
    const xs = rows.filter((x) => x.root === label && x.backend === backend);
    type Seq = Awaited<ReturnType<typeof sequential>>;
    type Closed = Awaited<ReturnType<typeof closed>>;
    return {
      root: label,
      backend,
      rounds: xs.length,
      'sequential toAccepted p50': pick(xs, (x) => (x.sequential as Seq).toAccepted.p50),
      'sequential toStarted p50': pick(xs, (x) => (x.sequential as Seq).toStarted.p50),
      'sequential toStarted p99': pick(xs, (x) => (x.sequential as Seq).toStarted.p99),
      'closed20 toStarted p50': pick(xs, (x) => (x.closedLoop20 as Closed).toStarted.p50),
      'closed20 toStarted p99': pick(xs, (x) => (x.closedLoop20 as Closed).toStarted.p99),
      'closed20 runs/s': pick(xs, (x) => (x.closedLoop20 as Closed).runsPerSec),
    };
  }),
);
console.table(summary);
const commit = execSync('git rev-parse --short HEAD').toString().trim();
const file = join(import.meta.dirname, 'results', `handoff-${commit}.json`);
writeFileSync(file, JSON.stringify({ commit, date: new Date().toISOString(), runs: RUNS, rounds: ROUNDS, summary, rows }, null, 2));
console.log(`results: ${file}`);
