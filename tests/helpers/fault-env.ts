// Shared set-up for fault tests: a private PostgreSQL, real agentwire processes, users.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startNode, type NodeProcess } from './node-process.js';
import { startPgCluster, type PgCluster } from './pg-cluster.js';
import { ResumingUser } from './resuming-user.js';
import { register } from './http.js';

export interface FaultEnv {
  cluster: PgCluster;
  sql: pg.Pool;
  dir: string;
  drillLog: string;
  nodes: NodeProcess[];
  node(env: Record<string, string>): Promise<NodeProcess>;
  users(url: string, n: number): Promise<ResumingUser[]>;
  /** Tool executions recorded by the drill tool: key → number of starts and of completions. */
  toolExecutions(): Map<string, { starts: number; dones: number }>;
  dispose(): Promise<void>;
}

export async function faultEnv(): Promise<FaultEnv> {
  const cluster = await startPgCluster();
  const dir = mkdtempSync(join(tmpdir(), 'agentwire-fault-'));
  const drillLog = join(dir, 'drill.log');
  const sql = new pg.Pool({ connectionString: cluster.url, max: 2 });
  sql.on('error', () => undefined); // the cluster is restarted on purpose in some tests
  const env: FaultEnv = {
    cluster,
    sql,
    dir,
    drillLog,
    nodes: [],
    async node(extra) {
      const n = await startNode({ DATABASE_URL: cluster.url, DRILL_LOG: drillLog, AGENTWIRE_DATA_DIR: join(dir, 'data'), ...extra });
      env.nodes.push(n);
      return n;
    },
    async users(url, n) {
      const stamp = Date.now().toString(36);
      return Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const creds = { username: `fault${i}_${stamp}`, password: 'fault drill password' };
          const user = await register(url, creds);
          return new ResumingUser(user.userId, user.token);
        }),
      );
    },
    toolExecutions() {
      const m = new Map<string, { starts: number; dones: number }>();
      let text = '';
      try {
        text = readFileSync(drillLog, 'utf8');
      } catch {
        return m;
      }
      for (const line of text.split('\n')) {
        const [kind, key] = line.split(' ');
        if (!key) continue;
        const e = m.get(key) ?? { starts: 0, dones: 0 };
        if (kind === 'start') e.starts++;
        if (kind === 'done') e.dones++;
        m.set(key, e);
      }
      return m;
    },
    async dispose() {
      for (const n of env.nodes) n.kill('SIGKILL');
      await Promise.all(env.nodes.map((n) => n.exited));
      await sql.end().catch(() => undefined);
      cluster.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

/** Prints one row of the reliability table (collected into docs/reliability.md by hand). */
export function report(row: Record<string, unknown>): void {
  console.info(`RELIABILITY ${JSON.stringify(row)}`);
}
