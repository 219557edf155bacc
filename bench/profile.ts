// Where a run's cost goes: the closed loop of scenario (a) against floors B and C and agentwire
// on PostgreSQL, with CPU time per run split between the server process, PostgreSQL's processes
// and this load generator (from /proc), PostgreSQL transactions per run (pg_stat_database), and,
// from inside the server (lib/probe.ts), its statements per run by text with their time, its
// waits for a pooled connection, and its main thread's CPU by area and by function.
//   npm run bench:profile [-- --seconds 8] [--only floorB,floorC,bench,analyst] [--rounds 1] [--base /other/checkout] [--with K=V,…]
// With --base, every target runs on the other checkout's servers too (BENCH_SERVER_ROOT; it needs
// this commit's bench/ for its probe), interleaved round by round, and medians are printed.
// Full figures: bench/results/profile-<commit>.json (and one .cpuprofile per target in the temporary directory, for DevTools).
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { closedLoop } from './scenarios.js';
import { median, round } from './lib/stats.js';
import { launch, type TargetKind } from './lib/targets.js';
import { summarise, type CpuProfile } from './lib/cpu-profile.js';
import { cpuTicks, postgresTicks, TICK_MS } from './lib/cpu.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '8' }, only: { type: 'string', default: 'floorB,floorC,bench,analyst' }, rounds: { type: 'string', default: '1' }, base: { type: 'string' }, with: { type: 'string' } },
});
const ROUNDS = Number(values.rounds);
const SOCKETS = 100;
const roots: Array<{ label: string; root: string | undefined; env?: Record<string, string> }> = [{ label: 'this', root: undefined }];
if (values.base) roots.unshift({ label: 'base', root: values.base });
// --with K=V,K=V: this checkout again with that environment for agentwire (e.g. DATABASE_POOL_SIZE=20), interleaved.
if (values.with) roots.push({ label: `with ${values.with}`, root: undefined, env: Object.fromEntries(values.with.split(',').map((kv) => kv.split('=') as [string, string])) });
const only = new Set(values.only.split(','));
const SECONDS = Number(values.seconds);

async function commits(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()');
    return Number(rows[0]?.n);
  } finally {
    await c.end();
  }
}

interface Census {
  statements: Array<{ text: string; n: number; ms: number }>;
  poolWait: { n: number; ms: number; max: number };
}

const commit = execSync('git rev-parse --short HEAD').toString().trim();
const results: Array<Record<string, unknown> & { target: string; root: string; round: number }> = [];
const targets = ([['floorB', 'floorB', undefined], ['floorC', 'floorC', undefined], ['bench', 'pg', 'bench'], ['analyst', 'pg', 'analyst']] as Array<[string, TargetKind, string | undefined]>).filter(([name]) => only.has(name));
// Every target of every checkout in each round: the checkouts take turns, so load drifts hit both.
const plan = Array.from({ length: ROUNDS }, (_, i) => roots.flatMap((r) => targets.map((t) => ({ round_: i + 1, ...r, target: t })))).flat();
for (const { round_, label: rootLabel, root, env, target: [name, kind, agent] } of plan) {
  if (root) process.env.BENCH_SERVER_ROOT = root;
  else delete process.env.BENCH_SERVER_ROOT;
  const profileFile = join(tmpdir(), `agentwire-profile-${commit}-${rootLabel.replace(/\W+/g, '_')}-${name}.cpuprofile`);
  const t = await launch(kind, { ...(agent ? { agent } : {}), env: { ...(kind === 'pg' ? env : {}), BENCH_PROBE: '1', BENCH_PROBE_PROFILE: profileFile } });
  try {
    const text = agent === 'analyst' ? 'Where does my money go?' : 'golden';
    // Warm up (and register users) outside the measured window.
    await closedLoop(t, { sockets: SOCKETS, seconds: 2, warmupSeconds: 1, text });
    let before = { server: 0, postgres: 0, self: process.cpuUsage(), commits: 0 };
    const ready = async () => {
      await t.server.probe('start');
      before = { server: cpuTicks(t.server.child.pid!), postgres: postgresTicks(), self: process.cpuUsage(), commits: await commits(t.databaseUrl!) };
    };
    const r = await closedLoop(t, { sockets: SOCKETS, seconds: SECONDS, warmupSeconds: 0, text, ready });
    const self = process.cpuUsage(before.self);
    // The work measured is every run begun in the window: the ones that ended in it (r.n) and the
    // loop's last round, one per socket, which ends after it (the CPU and statements are counted
    // until the loop has drained). For the analyst at 35 runs/s that round is a third of the runs.
    const runs = r.n + SOCKETS;
    const after = { server: cpuTicks(t.server.child.pid!), postgres: postgresTicks(), commits: await commits(t.databaseUrl!) };
    const census = (await t.server.probe('stop')) as Census;
    const statements = census.statements.sort((x, y) => y.n - x.n);
    const cpu = summarise(JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile);
    const result = {
        target: t.label,
        root: rootLabel,
        round: round_,
        runsPerSec: r.runsPerSec,
        serverCpuMsPerRun: round(((after.server - before.server) * TICK_MS) / runs, 2),
        postgresCpuMsPerRun: round(((after.postgres - before.postgres) * TICK_MS) / runs, 2),
        loadGeneratorCpuMsPerRun: round((self.user + self.system) / 1000 / runs, 2),
        transactionsPerRun: round((after.commits - before.commits) / runs, 2),
        statementsPerRun: round(statements.reduce((a, x) => a + x.n, 0) / runs, 2),
        statementMsPerRun: round(statements.reduce((a, x) => a + x.ms, 0) / runs, 2),
        poolWaits: { perRun: round(census.poolWait.n / runs, 2), msPerRun: round(census.poolWait.ms / runs, 2), maxMs: round(census.poolWait.max, 1) },
        byStatement: statements.slice(0, 15).map((x) => ({ perRun: round(x.n / runs, 2), avgMs: round(x.ms / x.n, 2), text: x.text })),
        mainThread: cpu,
        // Each area's main-thread CPU per run (the analyst's own work apart from the runtime's, for one).
        mainThreadMsPerRunByArea: Object.fromEntries(Object.entries(cpu.areasPct).map(([k, pct]) => [k, round((pct / 100) * cpu.sampledMs / runs, 3)])),
        mainThreadBusyMsPerRun: round(((100 - cpu.idlePct) / 100) * cpu.sampledMs / runs, 3),
    };
    results.push(result);
    console.log(JSON.stringify(result, null, 1));
  } finally {
    await t.dispose();
  }
}
// Medians over the rounds, per checkout and target, of the figures that fit one line.
const KEYS = ['runsPerSec', 'serverCpuMsPerRun', 'postgresCpuMsPerRun', 'loadGeneratorCpuMsPerRun', 'transactionsPerRun', 'statementsPerRun', 'statementMsPerRun'] as const;
const medians = [...new Set(results.map((r) => `${r.root}|${r.target}`))].map((key) => {
  const rs = results.filter((r) => `${r.root}|${r.target}` === key);
  const med = (f: (r: (typeof rs)[number]) => number) => round(median(rs.map(f)), 2);
  return {
    root: rs[0]!.root,
    target: rs[0]!.target,
    ...Object.fromEntries(KEYS.map((k) => [k, med((r) => r[k] as number)])),
    poolWaitMsPerRun: med((r) => (r.poolWaits as { msPerRun: number }).msPerRun),
    mainThreadIdlePct: med((r) => (r.mainThread as { idlePct: number }).idlePct),
    mainThreadBusyMsPerRun: med((r) => r.mainThreadBusyMsPerRun as number),
    analystMsPerRun: med((r) => (r.mainThreadMsPerRunByArea as Record<string, number>)['analyst agent (src/agents/analyst)'] ?? 0),
  };
});
console.log('\nmedians over rounds:');
for (const m of medians) console.log(JSON.stringify(m));
const file = join(import.meta.dirname, 'results', `profile-${commit}${values.base ? '-vs-base' : ''}${values.with ? `-with-${values.with.replace(/\W+/g, '_')}` : ''}.json`);
writeFileSync(file, JSON.stringify({ commit, base: values.base, date: new Date().toISOString(), load: readFileSync('/proc/loadavg', 'utf8').trim(), medians, results }, null, 2));
console.log(`written ${file}`);
process.exit(0);
