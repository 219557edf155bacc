// `npm run bench`: every scenario against real server processes, each beside its floors in the
// same run, interleaved over several rounds; medians reported, raw figures kept.
//   npm run bench -- [--only a,b,c,d,e,f,h] [--rounds 3] [--seconds 10] [--soak-seconds 600] [--soak-rate N] [--h-seconds 60] [--c-flush 50,1250] [--private-pg] [--quick]
// (h) is not in the default set: 2 × 60 s of overload per round; ask for it with --only.
// Needs a PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres);
// every measurement gets a fresh database, dropped afterwards. Results:
// bench/results/bench-<commit>-<scenarios>.json, or …-quick.json for --quick (never judged against the targets).
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { closedLoop, idleSessions, massReconnect, modelStreams, openLoop, soak } from './scenarios.js';
import { median, round } from './lib/stats.js';
import { report, resultsFileName } from './report.js';
import { launch, useDatabaseServer, type Target, type TargetKind } from './lib/targets.js';
import { startPgCluster } from '../tests/helpers/pg-cluster.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'a,b,c,d,e,f' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    'soak-seconds': { type: 'string' },
    quick: { type: 'boolean', default: false },
    'soak-rate': { type: 'string' },
    'h-seconds': { type: 'string' },
    'private-pg': { type: 'boolean', default: false },
    'c-flush': { type: 'string', default: '50,1250' },
  },
});
const quick = values.quick;
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const SECONDS = Number(values.seconds ?? (quick ? 4 : 10));
const SOAK_SECONDS = Number(values['soak-seconds'] ?? (quick ? 30 : 600));
const WARMUP = quick ? 1 : 2;
const H_SECONDS = Number(values['h-seconds'] ?? (quick ? 10 : 60));
const only = new Set(values.only.split(','));
const scale = quick ? 0.2 : 1; // --quick: a fifth of the sockets and sessions, for trying the suite out

// --private-pg: a throwaway PostgreSQL with the server's own defaults (fsync and autovacuum on),
// for machines whose PostgreSQL is tuned for tests (this one runs with autovacuum off, under
// which any long soak bloats and slows down whatever the application does).
const privatePg = values['private-pg'] ? await startPgCluster({ durable: true }) : undefined;
if (privatePg) useDatabaseServer(privatePg.url);

type Row = Record<string, unknown> & { scenario: string; target: string; round: number };
const rows: Row[] = [];

async function measured<T extends object>(scenario: string, round: number, kind: TargetKind, opts: { agent?: string; env?: Record<string, string> }, run: (t: Target) => Promise<T>): Promise<void> {
  const t = await launch(kind, opts);
  try {
    const figures = await run(t);
    const row = { scenario, target: t.label, round, ...figures } as Row;
    rows.push(row);
    console.log(JSON.stringify(row));
  } catch (err) {
    console.error(`${scenario} on ${t.label} failed: ${err instanceof Error ? err.message : String(err)}`);
    console.error(t.server.lines.slice(-10).join('\n'));
    rows.push({ scenario, target: t.label, round, failed: String(err) });
  } finally {
    await t.dispose();
  }
}

const n = (x: number) => Math.max(1, Math.round(x * scale));

for (let r = 1; r <= ROUNDS; r++) {
  if (only.has('a')) {
    const o = { sockets: 100, seconds: SECONDS, warmupSeconds: WARMUP };
    await measured('a', r, 'floorA', {}, (t) => closedLoop(t, { ...o, text: 'golden' }));
    await measured('a', r, 'floorB', {}, (t) => closedLoop(t, { ...o, text: 'golden' }));
    await measured('a', r, 'floorC', {}, (t) => closedLoop(t, { ...o, text: 'golden' }));
    await measured('a', r, 'pg', { agent: 'bench' }, (t) => closedLoop(t, { ...o, text: 'golden' }));
    await measured('a', r, 'pg', { agent: 'analyst' }, (t) => closedLoop(t, { ...o, text: 'Where does my money go?' }));
    await measured('a', r, 'pglite', { agent: 'bench' }, (t) => closedLoop(t, { ...o, text: 'golden' }));
    await measured('a', r, 'pglite', { agent: 'analyst' }, (t) => closedLoop(t, { ...o, text: 'Where does my money go?' }));
  }
  if (only.has('b')) {
    const o = { sockets: n(1000), rate: 200, seconds: SECONDS * 2, warmupSeconds: WARMUP, text: 'golden' };
    await measured('b', r, 'floorA', {}, (t) => openLoop(t, o));
    await measured('b', r, 'floorB', {}, (t) => openLoop(t, o));
    await measured('b', r, 'floorC', {}, (t) => openLoop(t, o));
    await measured('b', r, 'pg', { agent: 'bench' }, (t) => openLoop(t, o));
  }
  if (only.has('c')) {
    // The LLM agent's default flush window (50 ms), and one long enough for 10 stored rows per 10 s run
    // (8 outputs, the start and the end): the window trades the wait of a piece against rows stored.
    const o = { runs: n(2000), pieceMs: 20, seconds: 10 };
    for (const flushMs of values['c-flush'].split(',')) {
      const env = { WORKER_CONCURRENCY: String(o.runs + 100), LLM_OUTPUT_FLUSH_MS: flushMs, LLM_OUTPUT_FLUSH_CHARS: '65536' };
      await measured(`c@${flushMs}ms`, r, 'pg', { agent: 'bench_model', env }, (t) => modelStreams(t, o));
    }
  }
  if (only.has('d')) {
    await measured('d', r, 'floorA', {}, (t) => idleSessions(t, { sessions: n(10_000) }));
    await measured('d', r, 'pg', { agent: 'bench' }, (t) => idleSessions(t, { sessions: n(10_000) }));
  }
  if (only.has('h')) {
    // The seed's promise with room: 2,000 connected users, the analyst, open loop; and the embedded default.
    await measured('h', r, 'pg', { agent: 'analyst' }, (t) => openLoop(t, { sockets: n(2000), rate: 500, seconds: H_SECONDS, warmupSeconds: WARMUP, text: 'Where does my money go?' }));
    // 200 sockets: PGlite has no seeding, and 2,000 sign-ups over HTTP would spend minutes in scrypt.
    await measured('h', r, 'pglite', { agent: 'analyst' }, (t) => openLoop(t, { sockets: n(200), rate: 200, seconds: H_SECONDS, warmupSeconds: WARMUP, text: 'Where does my money go?' }));
  }
  if (only.has('e')) {
    await measured('e', r, 'pg', { agent: 'bench_paced', env: { WORKER_CONCURRENCY: '1100' } }, (t) => massReconnect(t, { sockets: n(1000), steps: 20, stepMs: 500 }));
  }
}

if (only.has('f')) {
  // Half of the closed-loop throughput measured above (or of 250 runs/s when (a) did not run).
  const a = rows.filter((x) => x.scenario === 'a' && x.target === 'agentwire bench on PostgreSQL' && typeof x.runsPerSec === 'number');
  const rate = values['soak-rate'] ? Number(values['soak-rate']) : Math.max(10, Math.round((a.length ? median(a.map((x) => x.runsPerSec as number)) : 250) / 2));
  await measured('f', 1, 'pg', { agent: 'bench' }, (t) => soak(t, { sockets: 100, rate, seconds: SOAK_SECONDS, warmupSeconds: Math.min(60, SOAK_SECONDS / 5), text: 'golden' }));
}

// Medians per scenario and target over the rounds, for every numeric figure (nested ones flattened).
const flatten = (o: Record<string, unknown>, prefix = ''): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(o).flatMap(([k, v]) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.entries(flatten(v as Record<string, unknown>, `${prefix}${k}.`)) : [[`${prefix}${k}`, v]],
    ),
  );
const groups = new Map<string, Row[]>();
for (const row of rows) groups.set(`${row.scenario}|${row.target}`, [...(groups.get(`${row.scenario}|${row.target}`) ?? []), row]);
const summary = [...groups.entries()].map(([key, rs]) => {
  const [scenario, target] = key.split('|');
  const flat = rs.filter((x) => !x.failed).map((x) => flatten(x));
  const keys = new Set(flat.flatMap((f) => Object.keys(f)));
  const med: Record<string, unknown> = { scenario, target, rounds: flat.length };
  for (const k of keys) {
    if (['scenario', 'target', 'round', 'samples'].includes(k)) continue;
    const xs = flat.map((f) => f[k]).filter((v): v is number => typeof v === 'number');
    if (xs.length) med[k] = round(median(xs));
  }
  return med;
});
console.log('\nmedians over rounds:');
for (const s of summary) console.log(JSON.stringify(s));

const commit = execSync('git rev-parse --short HEAD').toString().trim();
const dirty = execSync('git status --porcelain --untracked-files=no').toString().trim() !== '';
privatePg?.dispose();
const machine = { privatePostgres: privatePg !== undefined, cpus: cpus().length, cpuModel: cpus()[0]?.model, memGb: round(totalmem() / 2 ** 30), node: process.version, postgres: pgVersion() };
const file = join(import.meta.dirname, 'results', resultsFileName({ commit, dirty, scenarios: [...only], quick }));
writeFileSync(file, JSON.stringify({ commit, dirty, date: new Date().toISOString(), machine, rounds: ROUNDS, seconds: SECONDS, soakSeconds: SOAK_SECONDS, quick, summary, rows }, null, 2));
console.log(`written ${file}\n`);
console.log(report(summary as Parameters<typeof report>[0], { quick }));
process.exit(0);

function pgVersion(): string {
  try {
    return execSync(`psql "${process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'}" -Atc "show server_version"`).toString().trim();
  } catch {
    return 'unknown';
  }
}
