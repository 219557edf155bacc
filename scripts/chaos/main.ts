// `npm run chaos`: the whole crash sweep. Writes docs/reliability-sweep.json (counts, time, the
// crash-point list, the fingerprint of the code it ran) and regenerates the counts table in
// docs/reliability.md between its markers. Every breach is printed with its run kind, crash
// points and stored log; the exit code is 1 when there was one.
//   --seed N     plans another sample of nth hits and pairs (default 21)
//   --pairs N    two-death scenarios per backend (default 4)
//   --width N    scenarios at once (default 2: the machine's cores)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CRASH_POINT_NAMES, CRASH_POINTS } from '../../src/runs/crash-points.js';
import { EXERCISED, fingerprint, renderTable, replaceTable, RESULTS_PATH, DOC_PATH, type SweepResults } from './results.js';
import { BACKENDS, crashPointsHash, describeBreach, harness, plan, pool, probe, ROOT, totals } from './sweep.js';
import { runScenario, type ScenarioResult } from './scenario.js';

const { values } = parseArgs({ options: { seed: { type: 'string', default: '21' }, pairs: { type: 'string', default: '4' }, width: { type: 'string', default: '2' } } });
const seed = Number(values.seed);
const pairs = Number(values.pairs);
const width = Number(values.width);

const started = Date.now();
// What ran is what was there at the start: edits made while the sweep runs are not credited to it.
const sourceHash = fingerprint();
const dirty = execFileSync('git', ['status', '--porcelain', '--', ...EXERCISED], { cwd: ROOT }).toString().trim() !== '';
const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).toString().trim();
const h = await harness();
// Interrupted: the private PostgreSQL and the processes go too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void h.dispose().finally(() => process.exit(130)));
console.log(`harness ready in ${Date.now() - started} ms`);
const all: ScenarioResult[] = [];
const perBackend: SweepResults['backends'] = [];
let done = 0;
const progress = (r: ScenarioResult) => {
  done++;
  const d = r.scenario.deaths.map((x) => `${x.point}#${x.nth}`).join('+') || 'no death';
  console.log(`${String(done).padStart(3)} ${r.scenario.id} (${d}): ${r.deaths} died, ${r.runs} runs, ${r.breaches.length} breaches, ${r.ms} ms`);
  if (r.breaches.length > 0) console.log(describeBreach(r));
};
try {
  for (const backend of BACKENDS) {
    const t0 = Date.now();
    const probed = await probe(h.env, backend, width);
    probed.results.forEach(progress);
    const scenarios = plan(backend, probed.hits, seed, pairs);
    const results = await pool(scenarios, width, (s) => runScenario(h.env, s), progress);
    const rows = [...probed.results, ...results];
    all.push(...rows);
    perBackend.push({ backend, ...totals(rows), ms: Date.now() - t0, hits: probed.hits });
  }
} finally {
  await h.dispose();
}

const results: SweepResults = {
  generatedAt: new Date().toISOString(),
  seed,
  pairsPerBackend: pairs,
  commit,
  dirty,
  crashPoints: CRASH_POINT_NAMES.map((name) => ({ name, where: CRASH_POINTS[name] })),
  crashPointsHash: crashPointsHash(),
  sourceHash,
  ms: Date.now() - started,
  totals: totals(all),
  backends: perBackend,
  breaches: all.filter((r) => r.breaches.length > 0).map((r) => ({ id: r.scenario.id, kind: r.scenario.kind, backend: r.scenario.backend, deaths: r.scenario.deaths, breaches: r.breaches })),
};
writeFileSync(join(ROOT, RESULTS_PATH), `${JSON.stringify(results, null, 2)}\n`);
const doc = join(ROOT, DOC_PATH);
writeFileSync(doc, replaceTable(readFileSync(doc, 'utf8'), renderTable(results)));
console.log(renderTable(results));
console.log(`sweep done in ${(results.ms / 1000).toFixed(0)} s: ${RESULTS_PATH} and ${DOC_PATH} written`);
process.exit(results.totals.breaches > 0 ? 1 : 0);
