// The crash sweep's driver: plans the scenarios (every crash point a run kind reaches, on each
// backend, one death each, plus a seeded sample of pairs), runs them two at a time, and returns
// the counts. `npm run chaos` (./main.ts) runs it whole and writes the results; a sample runs in
// `npm test` (tests/faults/chaos-sample.test.ts).
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { CRASH_POINT_NAMES, CRASH_POINTS, type CrashPointName } from '../../src/runs/crash-points.js';
import { bundleServer } from '../../tests/faults/fixtures/bundle.js';
import { startNode } from '../../tests/helpers/node-process.js';
import { startPgCluster, type PgCluster } from '../../tests/helpers/pg-cluster.js';
import { startModel } from './model.js';
import type { Counts } from './results.js';
import { RUN_KINDS, runScenario, scratchDir, type Backend, type RunKind, type Scenario, type ScenarioResult, type SweepEnv } from './scenario.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BACKENDS: Backend[] = ['postgres', 'pglite'];

/** A small seeded generator (mulberry32): the same seed plans the same sweep. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const crashPointsHash = (): string =>
  createHash('sha256').update(JSON.stringify(CRASH_POINTS)).digest('hex').slice(0, 16);

export type Hits = Partial<Record<CrashPointName, number>>;

/** Every (kind, point) the probe reached gets one death, at a seeded hit; then `pairs` seeded two-death scenarios. */
export function plan(backend: Backend, hits: Record<RunKind, Hits>, seed: number, pairs: number): Scenario[] {
  const rand = rng(seed + (backend === 'postgres' ? 0 : 1000));
  const pick = (n: number) => 1 + Math.floor(rand() * n);
  const out: Scenario[] = [];
  const tag = backend === 'postgres' ? 'pg' : 'pl';
  for (const kind of RUN_KINDS) {
    for (const point of CRASH_POINT_NAMES) {
      const n = hits[kind][point] ?? 0;
      if (n > 0) out.push({ id: `${tag}-${kind}-${point}`.replace(/[._]/g, '-'), backend, kind, deaths: [{ point, nth: pick(n) }] });
    }
  }
  for (let i = 0; i < pairs; i++) {
    const kind = RUN_KINDS[Math.floor(rand() * RUN_KINDS.length)]!;
    const reached = CRASH_POINT_NAMES.filter((p) => (hits[kind][p] ?? 0) > 0);
    const a = reached[Math.floor(rand() * reached.length)]!;
    const b = reached[Math.floor(rand() * reached.length)]!;
    // The second death: the first time the process that took over reaches point b (its own count).
    out.push({ id: `${tag}-pair${i}-${kind}`, backend, kind, deaths: [{ point: a, nth: pick(hits[kind][a]!) }, { point: b, nth: 1 }] });
  }
  return out;
}

export interface Harness {
  env: SweepEnv;
  /** The private PostgreSQL's log file, until dispose. */
  pgLog: string;
  dispose(): Promise<void>;
}

/** The shared parts: a private PostgreSQL (scenario databases from a template, the effects table), a PGlite template, the model, the bundled process. */
export async function harness(): Promise<Harness> {
  const workDir = scratchDir();
  // Bundled once, with its packages: the sweep starts some hundreds of processes.
  const script = await bundleServer('scripts/chaos/node.ts', '.chaos');
  const cluster: PgCluster = await startPgCluster();
  const adminSql = new pg.Pool({ connectionString: cluster.url, max: 4 });
  const model = await startModel();
  const clusterUrl = (db: string) => cluster.url.replace(/\/postgres$/, `/${db}`);
  await adminSql.query('CREATE TABLE chaos_executions (run_id text NOT NULL, tool_call_id text NOT NULL, key text NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT now())');
  // Two runs never share a toolCallId (it starts with the run's id): the key of the effect.
  await adminSql.query('CREATE TABLE chaos_effects (run_id text NOT NULL, tool_call_id text PRIMARY KEY, key text NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT now())');
  await adminSql.query('CREATE DATABASE chaos_template');
  // One process makes each template (migrations, pg-boss's schema), then stops.
  const pgliteTemplate = join(workDir, 'pglite-template');
  const base = { LOG_LEVEL: 'info', CHAOS_EFFECTS_URL: clusterUrl('postgres') };
  const makers = await Promise.all([
    startNode({ ...base, DATABASE_URL: clusterUrl('chaos_template') }, script, []),
    // DATABASE_URL empty (unset): a DATABASE_URL in the caller's environment (CI sets one) must not
    // send the PGlite template's maker to PostgreSQL.
    startNode({ ...base, DATABASE_URL: '', AGENTWIRE_DATA_DIR: pgliteTemplate }, script, []),
  ]);
  for (const m of makers) m.kill('SIGTERM');
  await Promise.all(makers.map((m) => m.exited));
  const env: SweepEnv = { adminSql, clusterUrl, pgliteTemplate, llmUrl: model.provider.url, modelCalls: model.calls, workDir, script, execArgv: [] };
  return {
    env,
    pgLog: cluster.log,
    async dispose() {
      await model.provider.stop();
      await adminSql.end();
      cluster.dispose();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** Runs `jobs` at most `width` at a time, in order of start. */
export async function pool<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>, onDone?: (r: R) => void): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
        onDone?.(results[i]);
      }
    }),
  );
  return results;
}

/** One clean run of each kind per backend, traced: which crash points each kind reaches, how often. */
export async function probe(env: SweepEnv, backend: Backend, width: number): Promise<{ hits: Record<RunKind, Hits>; results: ScenarioResult[] }> {
  const tag = backend === 'postgres' ? 'pg' : 'pl';
  const results = await pool(
    RUN_KINDS.map((kind) => ({ id: `${tag}-${kind}-probe`, backend, kind, deaths: [] })),
    width,
    (s) => runScenario(env, s, { trace: true }),
  );
  const hits = Object.fromEntries(RUN_KINDS.map((k, i) => [k, results[i]!.hits ?? {}])) as Record<RunKind, Hits>;
  return { hits, results };
}

export function totals(results: ScenarioResult[]): Counts {
  const t: Counts = { scenarios: 0, deaths: 0, runs: 0, duplicateEffects: 0, reExecutions: 0, divergentRuns: 0, breaches: 0, unreached: 0 };
  for (const r of results) {
    t.scenarios++;
    t.deaths += r.deaths;
    t.runs += r.runs;
    t.duplicateEffects += r.duplicateEffects;
    t.reExecutions += r.reExecutions;
    t.divergentRuns += r.divergentRuns;
    t.breaches += r.breaches.length;
    if (r.deaths < r.scenario.deaths.length) t.unreached++;
  }
  return t;
}

/** What a breach prints: run kind, crash points, what broke, and the stored log. */
export function describeBreach(r: ScenarioResult): string {
  const deaths = r.scenario.deaths.map((d) => `${d.point}#${d.nth}`).join(' then ') || 'none';
  const lines = [`BREACH ${r.scenario.id}: ${r.scenario.backend}, run kind ${r.scenario.kind}, crash points ${deaths} (${r.deaths} died)`];
  for (const b of r.breaches) lines.push(`  ${b.check}: ${b.detail}${b.runId ? ` (run ${b.runId})` : ''}`);
  for (const [runId, log] of Object.entries(r.logs ?? {})) {
    lines.push(`  stored log of ${runId}:`);
    for (const e of log) {
      const { runId: _r, threadId: _t, ts: _ts, ...rest } = e as Record<string, unknown>;
      const line = JSON.stringify(rest);
      lines.push(`    ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
    }
  }
  return lines.join('\n');
}

export const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
