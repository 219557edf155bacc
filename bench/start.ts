// `npm run bench:start`: how long a start takes, from the command to `/readyz` answering 200, for
// `npm start` (compiled JavaScript in dist/) beside the way agentwire started before the build
// (`node --import tsx src/main.ts`, now `npm run dev`), and each without npm in front. Each
// variant gets its own data directory, started once before timing (migrations applied: what a
// restart meets); then the variants take turns, round after round, so they meet the same machine
// noise. Needs a fresh dist/ (npm run build).
//   npm run bench:start -- [--rounds 7] [--cold]
// --cold: a fresh data directory every start (the first start of an install: PGlite created,
// migrations applied).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { median, round } from './lib/stats.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, cold: { type: 'boolean', default: false } } });
const ROUNDS = Number(values.rounds);
const root = join(import.meta.dirname, '..');

const variants = [
  { name: 'npm start (node dist/src/main.js)', cmd: 'npm', args: ['start'] },
  { name: 'npm run dev (node --import tsx src/main.ts: the old npm start)', cmd: 'npm', args: ['run', 'dev'] },
  { name: 'node dist/src/main.js', cmd: process.execPath, args: ['dist/src/main.js'] },
  { name: 'node --import tsx src/main.ts', cmd: process.execPath, args: ['--import', 'tsx', 'src/main.ts'] },
] as const;

/** Starts one variant on `port` with `dataDir`; resolves with the ms until /readyz is 200, after stopping it. */
async function once(v: (typeof variants)[number], port: number, dataDir: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn(v.cmd, [...v.args], { cwd: root, env: { ...process.env, PORT: String(port), AGENTWIRE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let ms = NaN;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) {
      ms = performance.now() - t0;
      break;
    }
    if (child.exitCode !== null) throw new Error(`${v.name} exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGTERM');
  await exited;
  return ms;
}

const base = mkdtempSync(join(tmpdir(), 'agentwire-start-'));
const dirs = variants.map((_, i) => join(base, `v${i}`));
const times: number[][] = variants.map(() => []);
try {
  if (!values.cold) for (const [i, v] of variants.entries()) await once(v, 18_300 + i, dirs[i]!);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, v] of variants.entries()) {
      const dir = values.cold ? join(base, `cold-${r}-${i}`) : dirs[i]!;
      times[i]!.push(await once(v, 18_300 + i, dir));
    }
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
console.log(`start → /readyz 200, ${values.cold ? 'fresh' : 'existing'} data directory (PGlite), ${ROUNDS} rounds, ms:`);
for (const [i, v] of variants.entries()) {
  const xs = times[i]!;
  console.log(`  ${v.name.padEnd(66)} median ${String(round(median(xs), 0)).padStart(5)}   min ${round(Math.min(...xs), 0)}   max ${round(Math.max(...xs), 0)}`);
}
