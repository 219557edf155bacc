// A private PostgreSQL server for tests that restart it: its own data directory and port, so
// restarting it disturbs no other test. Needs PostgreSQL's server binaries (Debian's
// postgresql package, which .ci/run installs; or PG_BIN_DIR) and, as root, the `postgres` user.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface PgCluster {
  url: string;
  port: number;
  /** The server's log file (gone after dispose). */
  log: string;
  stop(): void;
  start(): void;
  dispose(): void;
}

/** Where the server binaries are looked for, in order: PG_BIN_DIR, Debian's layout, then PATH. */
function binDir(): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'initdb'));
  // PG_BIN_DIR, when set, is the only place looked at (a macOS install, or a check that hides them).
  if (process.env.PG_BIN_DIR) return has(process.env.PG_BIN_DIR) ? process.env.PG_BIN_DIR : undefined;
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (has(join(base, v, 'bin'))) return join(base, v, 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && has(dir)) return dir;
  return undefined;
}

export const pgServerAvailable = (): boolean => binDir() !== undefined;

/** Undefined when the binaries are there; else what is missing and how to get it, in one line. */
export function pgServerMissing(): string | undefined {
  if (binDir()) return undefined;
  const where = process.env.PG_BIN_DIR ? `PG_BIN_DIR=${process.env.PG_BIN_DIR}` : '/usr/lib/postgresql/*/bin or on PATH';
  return `PostgreSQL's server binaries (initdb, pg_ctl) are not in ${where}: install them (Debian, Ubuntu: apt-get install postgresql; macOS: brew install postgresql@16) or set PG_BIN_DIR to their folder`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** `durable`: PostgreSQL's own defaults (fsync and autovacuum on), for benchmarks; tests run without fsync. */
export async function startPgCluster(o: { durable?: boolean } = {}): Promise<PgCluster> {
  const bin = binDir();
  if (!bin) throw new Error(pgServerMissing());
  const dir = mkdtempSync(join(tmpdir(), 'agentwire-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
  // initdb refuses to run as root: run the server binaries as the postgres user.
  const run = (tool: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : join(bin, tool), asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args, { stdio: 'pipe' });
  const port = await freePort();
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${o.durable ? '' : ' -c fsync=off'} -c max_connections=200`;
  const cluster: PgCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    log: join(dir, 'log'),
    start: () => void run('pg_ctl', ['-D', data, '-o', opts, '-l', cluster.log, '-w', 'start']),
    stop: () => void run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
    dispose: () => {
      try {
        cluster.stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  cluster.start();
  return cluster;
}
