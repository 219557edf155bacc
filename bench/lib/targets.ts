// What a scenario runs against: a floor server, or agentwire on PostgreSQL or on the embedded
// PGlite. Each launch gets a fresh database (or data directory), so nothing carries over from
// the previous measurement; `dispose` kills the process and removes its data.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type ServerProcess } from './proc.js';
import { BENCH_SECRET, freshDatabase, registerUsers, seedUsers } from './users.js';

export type TargetKind = 'floorA' | 'floorB' | 'floorC' | 'pg' | 'pglite';

const FLOORS = { floorA: ['a', 'floor A (raw uWS)'], floorB: ['b', 'floor B (uWS + pg)'], floorC: ['c', 'floor C (uWS + pg, group commit)'] } as const;
const isFloor = (kind: TargetKind): kind is keyof typeof FLOORS => kind in FLOORS;

export interface Target {
  label: string;
  kind: TargetKind;
  server: ServerProcess;
  /** The agent requests name (agentwire only). */
  agent: string | undefined;
  databaseUrl: string | undefined;
  /** Tokens for `n` distinct users (floors need none: they accept every upgrade). */
  users(n: number, how?: 'register' | 'seed'): Promise<Array<string | undefined>>;
  dispose(): Promise<void>;
}

let ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Measurements from now on create their databases on this server (`--private-pg`). */
export function useDatabaseServer(url: string): void {
  ADMIN_URL = url;
}

let launches = 0;

/** Limits that would otherwise refuse a load generator's traffic; everything else is the default. */
const OPEN_LIMITS = {
  REQUESTS_PER_MINUTE: '1000000',
  FRAMES_PER_SECOND: '100000',
  HTTP_REQUESTS_PER_MINUTE: '1000000',
  REGISTRATIONS_PER_ADDRESS: '1000000',
  LOGIN_ATTEMPTS_PER_ADDRESS: '1000000',
  JWT_SECRET: BENCH_SECRET,
  TOKEN_TTL_SECONDS: '21600',
};

export async function launch(kind: TargetKind, opts: { agent?: string; env?: Record<string, string> } = {}): Promise<Target> {
  const n = ++launches;
  const db = kind === 'floorB' || kind === 'floorC' || kind === 'pg' ? await freshDatabase(ADMIN_URL, `bench_${process.pid}_${n}`) : undefined;
  const dataDir = kind === 'pglite' ? mkdtempSync(join(tmpdir(), 'agentwire-bench-')) : undefined;
  const cleanup = async () => {
    await db?.drop().catch(() => undefined);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  let server: ServerProcess;
  try {
    server =
      isFloor(kind)
        ? await startServer(kind, 'bench/servers/floor.ts', { FLOOR: FLOORS[kind][0], ...(db ? { DATABASE_URL: db.url } : {}), ...opts.env })
        : await startServer(`agentwire ${kind}`, 'bench/node.ts', {
            ...OPEN_LIMITS,
            ...(db ? { DATABASE_URL: db.url } : { AGENTWIRE_DATA_DIR: dataDir! }),
            WORKER_CONCURRENCY: '200',
            ...opts.env,
          });
  } catch (err) {
    await cleanup();
    throw err;
  }
  const label = isFloor(kind) ? FLOORS[kind][1] : `agentwire ${opts.agent ?? 'bench'} on ${kind === 'pg' ? 'PostgreSQL' : 'PGlite'}`;
  return {
    label,
    kind,
    server,
    agent: kind === 'pg' || kind === 'pglite' ? (opts.agent ?? 'bench') : undefined,
    databaseUrl: db?.url,
    users: async (count, how = 'register') => {
      if (isFloor(kind)) return new Array<undefined>(count).fill(undefined);
      if (how === 'seed' && db) return seedUsers(db.url, count, { usage: opts.agent === 'analyst' });
      return registerUsers(server.url, count);
    },
    dispose: async () => {
      await server.stop();
      await cleanup();
    },
  };
}
