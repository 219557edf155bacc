// A sample of the crash sweep (`npm run chaos`, scripts/chaos/), fixed: one death in each of three scenarios,
// checked by the sweep's oracle (every client sees each seq once and in order, one terminal event;
// the stored log passes the grammar and the run statechart; each side effect at most once; the
// answer begins with what was shown; usage counts every model call).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgServerMissing } from '../helpers/pg-cluster.js';
import { runScenario, type Scenario } from '../../scripts/chaos/scenario.js';
import { describeBreach, harness, type Harness } from '../../scripts/chaos/sweep.js';

const SAMPLE: Scenario[] = [
  // A worker dies after a tool's side effect, before its result is stored; the other takes over.
  { id: 'sample-pg-llm-tool-after', backend: 'postgres', kind: 'llm-tools', deaths: [{ point: 'tool.after', nth: 1 }] },
  // The only process dies inside a model stream, after its third piece, and starts again on its data.
  { id: 'sample-pl-llm-model-piece', backend: 'pglite', kind: 'llm-tools', deaths: [{ point: 'model.piece', nth: 3 }] },
  // A run that waits for a person: the gateway dies once the answer is stored, before it is
  // announced or any worker is woken; the run goes on from the answer on a worker.
  { id: 'sample-pg-asks-wait-answered', backend: 'postgres', kind: 'asks-person', deaths: [{ point: 'wait.answered', nth: 1 }] },
];

// Skipped, with one line from tests/setup/faults.ts, where PostgreSQL's server binaries are missing.
describe.skipIf(pgServerMissing() !== undefined)('crash sweep sample', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  }, 120_000);
  afterAll(async () => {
    await h?.dispose();
  });

  it('one death on PostgreSQL (two workers), one on PGlite (restart), one while a run waits for a person: each died once, and the oracle finds nothing', async () => {
    const results = await Promise.all(SAMPLE.map((s) => runScenario(h.env, s)));
    for (const r of results) if (r.breaches.length > 0) console.error(describeBreach(r));
    expect(results.map((r) => ({ id: r.scenario.id, deaths: r.deaths, breaches: r.breaches }))).toEqual(SAMPLE.map((s) => ({ id: s.id, deaths: 1, breaches: [] })));
    expect(results.every((r) => r.runs === 1)).toBe(true);
  }, 180_000);
});
