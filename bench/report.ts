// Turns a results file of `npm run bench` into the Markdown table of docs/performance.md:
// each scenario's figures beside its floors, the target, and whether it was met. A `--quick` run
// (a fifth of the sockets and sessions, one short round) is not the scenario the targets are set
// for: its rows say "indicative (quick run)", never met or not met.
//   node --import tsx bench/report.ts bench/results/bench-<commit>-<scenarios>.json
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

type Summary = Record<string, unknown> & { scenario: string; target: string };

const num = (s: Summary | undefined, k: string): number | undefined => (typeof s?.[k] === 'number' ? (s[k] as number) : undefined);
const fmt = (x: number | undefined, digits = 0) => (x === undefined ? 'n/a' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : (a / b) * 100);

/** Where a run's results go: a quick run never takes the name of a full run of the same commit. */
export function resultsFileName(o: { commit: string; dirty: boolean; scenarios: readonly string[]; quick: boolean }): string {
  return `bench-${o.commit}${o.dirty ? '-dirty' : ''}-${o.scenarios.join('')}${o.quick ? '-quick' : ''}.json`;
}

export const QUICK_NOTE = 'Quick run (`--quick`: a fifth of the sockets and sessions, one short round): the figures are indicative only and are not judged against the targets, which are set for the full scenarios.';

export function report(summary: Summary[], o: { quick?: boolean } = {}): string {
  const verdict = (ok: boolean | undefined) => (o.quick ? 'indicative (quick run)' : ok === undefined ? 'n/a' : ok ? 'met' : 'not met');
  const find = (scenario: string, target: string) => summary.find((s) => s.scenario === scenario && s.target === target);
  const A = 'floor A (raw uWS)';
  const B = 'floor B (uWS + pg)';
  const C = 'floor C (uWS + pg, group commit)';
  const lines = [...(o.quick ? [QUICK_NOTE, ''] : []), '| scenario | agentwire | floors (same run) | target | verdict |', '|---|---|---|---|---|'];
  const a = { fa: find('a', A), fb: find('a', B), fc: find('a', C), pg: find('a', 'agentwire bench on PostgreSQL'), pgAn: find('a', 'agentwire analyst on PostgreSQL'), lite: find('a', 'agentwire bench on PGlite'), liteAn: find('a', 'agentwire analyst on PGlite') };
  const floorsA = `A ${fmt(num(a.fa, 'runsPerSec'))} runs/s, p99 ${fmt(num(a.fa, 'p99'), 1)} ms; B ${fmt(num(a.fb, 'runsPerSec'))} runs/s, p99 ${fmt(num(a.fb, 'p99'), 1)} ms; C ${fmt(num(a.fc, 'runsPerSec'))} runs/s, p99 ${fmt(num(a.fc, 'p99'), 1)} ms`;
  if (a.pg) {
    const ofB = pct(num(a.pg, 'runsPerSec'), num(a.fb, 'runsPerSec'));
    const ofC = pct(num(a.pg, 'runsPerSec'), num(a.fc, 'runsPerSec'));
    lines.push(
      `| (a) closed loop, 100 sockets, PostgreSQL, bench agent | ${fmt(num(a.pg, 'runsPerSec'))} runs/s, p50 ${fmt(num(a.pg, 'p50'), 1)} / p99 ${fmt(num(a.pg, 'p99'), 1)} ms (${fmt(ofC)} % of floor C, ${fmt(ofB)} % of floor B) | ${floorsA} | ≥ 2,500 runs/s, ≥ 20 % of C, p99 ≤ 50 ms | ${verdict((num(a.pg, 'runsPerSec') ?? 0) >= 2500 && (ofC ?? 0) >= 20 && (num(a.pg, 'p99') ?? Infinity) <= 50)} |`,
    );
  }
  if (a.pgAn) {
    lines.push(
      `| (a2) closed loop, 100 sockets, PostgreSQL, analyst | ${fmt(num(a.pgAn, 'runsPerSec'))} runs/s, p50 ${fmt(num(a.pgAn, 'p50'), 1)} / p99 ${fmt(num(a.pgAn, 'p99'), 1)} ms | (as above) | ≥ 600 runs/s, p99 ≤ 300 ms | ${verdict((num(a.pgAn, 'runsPerSec') ?? 0) >= 600 && (num(a.pgAn, 'p99') ?? Infinity) <= 300)} |`,
    );
  }
  if (a.lite) {
    lines.push(
      `| (a) closed loop, 100 sockets, PGlite | bench agent ${fmt(num(a.lite, 'runsPerSec'))} runs/s, p99 ${fmt(num(a.lite, 'p99'), 1)} ms; analyst ${fmt(num(a.liteAn, 'runsPerSec'))} runs/s, p99 ${fmt(num(a.liteAn, 'p99'), 1)} ms | (as above) | bench agent ≥ 500 runs/s | ${verdict((num(a.lite, 'runsPerSec') ?? 0) >= 500)} |`,
    );
  }
  const b = { fa: find('b', A), fb: find('b', B), fc: find('b', C), pg: find('b', 'agentwire bench on PostgreSQL') };
  if (b.pg) {
    const s = (x: Summary | undefined) => `started p50 ${fmt(num(x, 'started.p50'), 1)} / p99 ${fmt(num(x, 'started.p99'), 1)} / p99.9 ${fmt(num(x, 'started.p999'), 1)} ms; terminal p50 ${fmt(num(x, 'terminal.p50'), 1)} / p99 ${fmt(num(x, 'terminal.p99'), 1)} / p99.9 ${fmt(num(x, 'terminal.p999'), 1)} ms`;
    lines.push(
      `| (b) open loop, 200 runs/s over 1,000 sockets, PostgreSQL | ${s(b.pg)}; ${fmt(num(b.pg, 'completed'))} of ${fmt(num(b.pg, 'sent'))} completed | A: ${s(b.fa)}. B: ${s(b.fb)}. C: ${s(b.fc)} | started p50 ≤ 3 ms, terminal p99 ≤ 25 ms | ${verdict((num(b.pg, 'started.p50') ?? Infinity) <= 3 && (num(b.pg, 'terminal.p99') ?? Infinity) <= 25)} |`,
    );
  }
  for (const flushMs of [50, 1250]) {
    const c = find(`c@${flushMs}ms`, 'agentwire bench_model on PostgreSQL');
    if (!c) continue;
    const all = num(c, 'completed') === num(c, 'runs');
    lines.push(
      `| (c) ${fmt(num(c, 'runs'))} concurrent streams paced like a model (a piece every 20 ms for 10 s), flush window ${fmt(flushMs)} ms, PostgreSQL | ${fmt(num(c, 'completed'))} of ${fmt(num(c, 'runs'))} completed in ${fmt(num(c, 'wallSeconds'), 1)} s; oldest piece of each output waited p50 ${fmt(num(c, 'outputWaitMs.p50'), 1)} / p99 ${fmt(num(c, 'outputWaitMs.p99'), 1)} ms; ${fmt(num(c, 'storedRowsPerRun'), 1)} stored rows per run; server ${fmt(num(c, 'serverCores'), 2)} cores (${fmt(num(c, 'serverCpuMsPerRunSecond'), 2)} ms of CPU per second of a stream), PostgreSQL ${fmt(num(c, 'postgresCores'), 2)} cores | (no floor streams) | all complete, wait p99 ≤ ${fmt(flushMs + 50)} ms, ≤ 10 rows per run | ${verdict(all && (num(c, 'outputWaitMs.p99') ?? Infinity) <= flushMs + 50 && (num(c, 'storedRowsPerRun') ?? Infinity) <= 10)} |`,
    );
  }
  const d = { fa: find('d', A), pg: find('d', 'agentwire bench on PostgreSQL') };
  if (d.pg) {
    lines.push(
      `| (d) ${fmt(num(d.pg, 'sessions'))} idle authenticated sessions | ${fmt((num(d.pg, 'bytesPerSession') ?? NaN) / 1024, 1)} KB resident per session (heap ${fmt((num(d.pg, 'heapBytesPerSession') ?? NaN) / 1024, 1)} KB) | A ${fmt((num(d.fa, 'bytesPerSession') ?? NaN) / 1024, 1)} KB per idle socket | ≤ 6 KB per session | ${verdict((num(d.pg, 'bytesPerSession') ?? Infinity) <= 6 * 1024)} |`,
    );
  }
  const e = find('e', 'agentwire bench_paced on PostgreSQL');
  if (e) {
    const all = num(e, 'caughtUp') === num(e, 'sockets');
    lines.push(
      `| (e) ${fmt(num(e, 'sockets'))} sockets with runs in progress dropped at once, reconnect and resume | ${fmt(num(e, 'caughtUp'))} of ${fmt(num(e, 'sockets'))} caught up; catch-up p50 ${fmt(num(e, 'catchUp.p50'))} / p99 ${fmt(num(e, 'catchUp.p99'))} / max ${fmt(num(e, 'catchUp.max'))} ms; ${fmt(num(e, 'gaps'))} gaps, ${fmt(num(e, 'duplicates'))} duplicates | (no floor resumes) | all caught up, p99 ≤ 1 s, 0 gaps, 0 duplicates | ${verdict(all && (num(e, 'catchUp.p99') ?? Infinity) <= 1000 && num(e, 'gaps') === 0 && num(e, 'duplicates') === 0)} |`,
    );
  }
  for (const [target, what, rate] of [
    ['agentwire analyst on PostgreSQL', 'PostgreSQL', 500],
    ['agentwire analyst on PGlite', 'the embedded default (PGlite)', 200],
  ] as const) {
    const h = find('h', target);
    if (!h) continue;
    const all = num(h, 'completed') === num(h, 'sent');
    lines.push(
      `| (h) the analyst, open loop, ${fmt(rate)} runs/s, ${what} | terminal p50 ${fmt(num(h, 'terminal.p50'), 1)} / p99 ${fmt(num(h, 'terminal.p99'), 1)} ms (runs that ended); ${fmt(num(h, 'completed'))} of ${fmt(num(h, 'sent'))} ended; ${fmt(num(h, 'errors'))} error answers; ${fmt(num(h, 'serverCloses'))} sockets dropped by the server | | all end, p99 ≤ 1 s${rate === 500 ? ', 0 errors, 0 dropped' : ''} | ${verdict(all && (num(h, 'terminal.p99') ?? Infinity) <= 1000 && (rate !== 500 || (num(h, 'errors') === 0 && num(h, 'serverCloses') === 0)))} |`,
    );
  }
  const f = find('f', 'agentwire bench on PostgreSQL');
  if (f) {
    lines.push(
      `| (f) soak, ${fmt(num(f, 'seconds'))} s at ${fmt(num(f, 'rate'))} runs/s (half of (a)) | resident memory after GC ${fmt(num(f, 'rssAfterWarmupMb'), 1)} → ${fmt(num(f, 'rssEndMb'), 1)} MB (${fmt(num(f, 'rssGrowthPct'), 1)} %); ${fmt(num(f, 'completed'))} of ${fmt(num(f, 'sent'))} runs completed; ${fmt(num(f, 'serverCloses'))} sockets dropped by the server | | growth ≤ 5 %, 99.9 % connection reliability | ${verdict((num(f, 'rssGrowthPct') ?? Infinity) <= 5 && num(f, 'serverCloses') === 0)} |`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: bench/report.ts <results.json>');
  const data = JSON.parse(readFileSync(file, 'utf8')) as { summary: Summary[]; commit: string; date: string; machine: unknown; quick?: boolean };
  console.log(`commit ${data.commit}, ${data.date}, ${JSON.stringify(data.machine)}\n`);
  console.log(report(data.summary, { quick: data.quick === true }));
}
