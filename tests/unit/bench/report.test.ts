// `npm run bench -- --quick` keeps its results apart from a full run's and is never judged
// against the full scenarios' targets.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { report, resultsFileName } from '../../../bench/report.js';

// A full run's stored results: the table is built from its summary.
const full = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'bench', 'results', 'bench-cc15230-abcdef.json'), 'utf8')) as { summary: Parameters<typeof report>[0] };
const verdicts = (table: string) =>
  table
    .split('\n')
    .filter((l) => l.startsWith('| ('))
    .map((l) => l.split('|').at(-2)!.trim());

describe('bench results and report', () => {
  it('names a quick run apart from a full run of the same commit and scenarios', () => {
    const o = { commit: 'abc1234', dirty: false, scenarios: ['a', 'b'] };
    expect(resultsFileName({ ...o, quick: false })).toBe('bench-abc1234-ab.json');
    expect(resultsFileName({ ...o, quick: true })).toBe('bench-abc1234-ab-quick.json');
    expect(resultsFileName({ ...o, dirty: true, quick: true })).toBe('bench-abc1234-dirty-ab-quick.json');
  });

  it('judges a full run against the targets, and marks every row of a quick run indicative', () => {
    const judged = verdicts(report(full.summary));
    expect(judged.length).toBeGreaterThanOrEqual(6);
    for (const v of judged) expect(['met', 'not met', 'n/a']).toContain(v);

    const quick = report(full.summary, { quick: true });
    expect(quick.split('\n')[0]).toMatch(/^Quick run .*indicative only and are not judged against the targets/);
    expect(verdicts(quick)).toEqual(judged.map(() => 'indicative (quick run)'));
    expect(quick).not.toMatch(/\| (not )?met \|/);
  });
});
