// ad-hoc (not committed): CPU profile of scenario (c) at N streams
import { readFileSync } from 'node:fs';
import { modelStreams } from './scenarios.js';
import { launch } from './lib/targets.js';
import { summarise, type CpuProfile } from './lib/cpu-profile.js';
const N = Number(process.argv[2] ?? 400);
const FLUSH = process.argv[3] ?? '50';
const file = `/tmp/prof-c-${N}-${FLUSH}.cpuprofile`;
const t = await launch('pg', { agent: 'bench_model', env: { WORKER_CONCURRENCY: String(N + 100), LLM_OUTPUT_FLUSH_MS: FLUSH, LLM_OUTPUT_FLUSH_CHARS: '65536', BENCH_PROBE: '1', BENCH_PROBE_PROFILE: file } });
try {
  await t.server.probe('start');
  const r = await modelStreams(t, { runs: N, pieceMs: 20, seconds: 10 });
  const census = (await t.server.probe('stop')) as { statements: Array<{ n: number; ms: number; text: string }> };
  console.log(JSON.stringify(r));
  console.log(JSON.stringify(census.statements.sort((a, b) => b.n - a.n).slice(0, 8).map((s) => ({ n: s.n, ms: Math.round(s.ms / s.n * 10) / 10, text: s.text.slice(0, 100) }))));
  console.log(JSON.stringify(summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile), null, 1));
} finally {
  await t.dispose();
}
process.exit(0);
