// Where a run's cost goes: the closed loop of scenario (a) against floor B and agentwire on
// PostgreSQL, with CPU time per run split between the server process, PostgreSQL's processes and
// this load generator (from /proc), and PostgreSQL transactions per run (pg_stat_database).
//   npm run bench:profile [-- --seconds 8]
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { closedLoop } from './scenarios.js';
import { round } from './lib/stats.js';
import { launch, type TargetKind } from './lib/targets.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' } } });
const SECONDS = Number(values.seconds);
const TICK_MS = 1000 / 100; // USER_HZ: /proc reports CPU time in ticks of 10 ms on Linux

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function postgresTicks(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') total += cpuTicks(Number(pid));
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

async function commits(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()');
    return Number(rows[0]?.n);
  } finally {
    await c.end();
  }
}

for (const [kind, agent] of [['floorB', undefined], ['pg', 'bench'], ['pg', 'analyst']] as Array<[TargetKind, string | undefined]>) {
  const t = await launch(kind, agent ? { agent } : {});
  try {
    const text = agent === 'analyst' ? 'Where does my money go?' : 'golden';
    // Warm up (and register users) outside the measured window.
    await closedLoop(t, { sockets: 100, seconds: 2, warmupSeconds: 1, text });
    const before = { server: cpuTicks(t.server.child.pid!), postgres: postgresTicks(), self: process.cpuUsage(), commits: await commits(t.databaseUrl!) };
    const r = await closedLoop(t, { sockets: 100, seconds: SECONDS, warmupSeconds: 0, text });
    const self = process.cpuUsage(before.self);
    const runs = r.n;
    const after = { server: cpuTicks(t.server.child.pid!), postgres: postgresTicks(), commits: await commits(t.databaseUrl!) };
    console.log(
      JSON.stringify({
        target: t.label,
        runsPerSec: r.runsPerSec,
        serverCpuMsPerRun: round(((after.server - before.server) * TICK_MS) / runs, 2),
        postgresCpuMsPerRun: round(((after.postgres - before.postgres) * TICK_MS) / runs, 2),
        loadGeneratorCpuMsPerRun: round((self.user + self.system) / 1000 / runs, 2),
        // Per run measured: the loop's last round (one run per socket, after the window) is counted in
        // the CPU and transactions but not in the runs, a bias of about 100 runs in thousands.
        transactionsPerRun: round((after.commits - before.commits) / runs, 1),
      }),
    );
  } finally {
    await t.dispose();
  }
}
process.exit(0);
