// `npm run chaos:again -- <backend> <kind> <point>[#nth][+<point>[#nth]] [--times N]`: one scenario
// of the sweep, run again N times (default 5), to chase a breach the sweep found. Writes nothing to
// docs/; with CHAOS_LOG_DIR=<dir>, each process's log is kept there, and PostgreSQL's. Exits 1 when any run breached.
//   e.g. CHAOS_LOG_DIR=/tmp/chaos npm run chaos:again -- postgres asks-person terminal.after_commit
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CRASH_POINT_NAMES, type CrashPointName } from '../../src/runs/crash-points.js';
import { describeBreach, harness } from './sweep.js';
import { RUN_KINDS, runScenario, type Backend, type Death, type RunKind } from './scenario.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { times: { type: 'string', default: '5' } } });
const [backend, kind, points = ''] = positionals as [Backend, RunKind, string | undefined];
if (!['postgres', 'pglite'].includes(backend) || !RUN_KINDS.includes(kind)) {
  console.error(`usage: chaos:again <postgres|pglite> <${RUN_KINDS.join('|')}> [point[#nth][+point[#nth]]] [--times N]`);
  process.exit(2);
}
const deaths: Death[] = points
  .split('+')
  .filter(Boolean)
  .map((p) => {
    const [point, nth = '1'] = p.split('#') as [string, string?];
    if (!CRASH_POINT_NAMES.includes(point as CrashPointName)) throw new Error(`no crash point ${point}; they are ${CRASH_POINT_NAMES.join(', ')}`);
    return { point: point as CrashPointName, nth: Number(nth) };
  });

const h = await harness();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void h.dispose().finally(() => process.exit(130)));
let breached = 0;
try {
  for (let i = 0; i < Number(values.times); i++) {
    const tag = backend === 'postgres' ? 'pg' : 'pl';
    const r = await runScenario(h.env, { id: `${tag}-again${process.pid}-${i}-${kind}`, backend, kind, deaths });
    console.log(`${i + 1}: ${r.deaths} died, ${r.runs} runs, ${r.breaches.length} breaches, ${r.ms} ms`);
    if (r.breaches.length > 0) {
      breached++;
      console.log(describeBreach(r));
    }
  }
} finally {
  if (process.env.CHAOS_LOG_DIR) copyFileSync(h.pgLog, join(process.env.CHAOS_LOG_DIR, `postgres-${process.pid}.log`));
  await h.dispose();
}
process.exit(breached > 0 ? 1 : 0);
