// The crash sweep's committed figures (docs/reliability.md's table) are the ones its results file
// holds, and that file was produced with the crash points the code has now. The code's own
// fingerprint is compared too, but only reported: see docs/reliability.md, "Is the table current?".
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CRASH_POINT_NAMES, CRASH_POINTS } from '../../src/runs/crash-points.js';
import { DOC_PATH, fingerprint, renderTable, RESULTS_PATH, tableIn, type SweepResults } from '../../scripts/chaos/results.js';
import { crashPointsHash } from '../../scripts/chaos/sweep.js';

const root = join(import.meta.dirname, '..', '..');
const results = JSON.parse(readFileSync(join(root, RESULTS_PATH), 'utf8')) as SweepResults;

describe('the crash sweep figures', () => {
  it("docs/reliability.md's counts table is the one generated from docs/reliability-sweep.json", () => {
    expect(tableIn(readFileSync(join(root, DOC_PATH), 'utf8'))).toBe(renderTable(results));
  });

  it("the results' crash-point list is the code's (names, places and hash)", () => {
    expect(results.crashPoints).toEqual(CRASH_POINT_NAMES.map((name) => ({ name, where: CRASH_POINTS[name] })));
    expect(results.crashPointsHash).toBe(crashPointsHash());
  });

  it('every crash point is placed in the code, once per name at least', () => {
    const sources = ['src/store/append-batcher.ts', 'src/runs/executor.ts', 'src/runs/agent-context.ts', 'src/runs/sub-agents.ts', 'src/runs/cancel.ts', 'src/agents/llm/agent.ts'].map((f) => readFileSync(join(root, f), 'utf8')).join('\n');
    for (const name of CRASH_POINT_NAMES) expect(sources, name).toContain(`crashPoint('${name}')`);
  });

  it('the counts add up, and every breach is listed', () => {
    expect(results.breaches.length > 0).toBe(results.totals.breaches > 0);
    expect(results.totals.scenarios).toBe(results.backends.reduce((n, b) => n + b.scenarios, 0));
    expect(results.totals.deaths).toBeGreaterThan(0);
    const now = fingerprint();
    if (now !== results.sourceHash)
      console.info(`crash sweep: the exercised code changed since the last full sweep (fingerprint ${results.sourceHash} → ${now}); run \`npm run chaos\` to refresh the figures`);
  });
});
