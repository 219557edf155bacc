// SIGTERM the only process while runs are in flight: it closes sockets with 1001, hands its runs
// back and exits; started again, it continues every unfinished run, and clients that reconnect
// and resume get every event once, in order. On the embedded database and on PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { faultEnv, report, type FaultEnv } from '../helpers/fault-env.js';
import { pgServerMissing } from '../helpers/pg-cluster.js';
import { countDelivery } from '../helpers/resuming-user.js';

const USERS = 5;
const RUNS_PER_USER = 2;

// Skipped, with one line from tests/setup/faults.ts, where PostgreSQL's server binaries are missing.
describe.skipIf(pgServerMissing() !== undefined)('SIGTERM the only process', () => {
  let env: FaultEnv;
  let dataDir: string;
  beforeEach(async () => {
    env = await faultEnv();
    dataDir = mkdtempSync(join(tmpdir(), 'agentwire-sigterm-'));
  });
  afterEach(async () => {
    await env?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  for (const database of ['pglite', 'postgres'] as const) {
    it(`on ${database}: hands runs back, and a restart finishes every one with nothing lost or repeated`, async () => {
      // An empty DATABASE_URL means the embedded PGlite under the data directory.
      const settings = { DRILL_STEP_MS: '250', AGENTWIRE_DATA_DIR: dataDir, ...(database === 'pglite' ? { DATABASE_URL: '' } : {}) };
      const first = await env.node(settings);
      const users = await env.users(first.url, USERS);
      await Promise.all(users.map((u) => u.connect(first.wsUrl)));
      await Promise.all(users.flatMap((u) => Array.from({ length: RUNS_PER_USER }, (_, i) => u.request(`drill ${i}`, 'drill'))));
      // Mid-run: every run has started and none has finished.
      await Promise.all(users.map((u) => u.client!.waitFor((f) => f.type === 'tool_executing')));
      expect(users.every((u) => !u.done)).toBe(true);

      const signalled = Date.now();
      first.kill('SIGTERM');
      const closeCodes = await Promise.all(users.map((u) => u.client!.closed));
      const exitCode = await first.exited;
      const shutdownMs = Date.now() - signalled;

      const second = await env.node(settings);
      const restarted = Date.now();
      await Promise.all(users.map((u) => u.connect(second.wsUrl)));
      await Promise.all(users.map((u) => u.allDone()));
      const recoveryMs = Date.now() - restarted;

      const counts = countDelivery(users);
      report({ fault: `SIGTERM the only process (${database}), then restart`, ...counts, shutdownMs, recoveryMs });
      expect(closeCodes.every((c) => c === 1001)).toBe(true);
      expect(exitCode).toBe(0);
      expect(counts).toEqual({ runs: USERS * RUNS_PER_USER, completed: USERS * RUNS_PER_USER, duplicated: 0, missing: 0, outOfOrder: 0 });
      // No run was cancelled or failed by the shutdown: each ended with the drill's answer.
      for (const u of users) for (const r of u.runs.values()) expect(r.terminalType).toBe('agent_completed');
    });
  }
});
