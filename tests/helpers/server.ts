// Starts a real agentwire runtime (real uWS sockets, real database) on a free port for a test.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TracerProvider } from '@opentelemetry/api';
import { analyst } from '../../src/agents/analyst/index.js';
import type { Agent, Tool } from '../../src/agents/types.js';
import { readEnv, parseSettings, toConfig, type Settings } from '../../src/config/index.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { Runtime } from '../../src/runtime.js';
import { freshPostgresDatabase, type Backend } from './backends.js';
import { pgliteTemplate } from './db.js';
import { TestClient } from './client.js';
import { register } from './http.js';

export interface TestServer {
  backend: Backend;
  runtime: Runtime;
  url: string;
  wsUrl: string;
  dataDir: string;
  register(username?: string, password?: string): Promise<TestUser>;
  connect(token: string, opts?: { protocols?: string[]; headers?: Record<string, string>; query?: string }): Promise<TestClient>;
  stop(): Promise<void>;
}

export interface TestUser {
  userId: string;
  username: string;
  password: string;
  token: string;
}

let counter = 0;

export async function startServer(
  backend: Backend,
  opts: {
    env?: Record<string, string>;
    /** Options with no environment variable, laid over the environment's (one level deep: `{ llm: { tools } }`). */
    options?: Settings;
    agents?: Agent[];
    tools?: Tool[];
    dataDir?: string;
    keepData?: boolean;
    pollIntervalMs?: number;
    /** Traces go to this provider (an in-memory exporter in tests). */
    tracerProvider?: TracerProvider;
    log?: Logger;
  } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'agentwire-test-'));
  // A new data directory starts from the initialised template (./db.ts): the runtime's PGlite lives in <dataDir>/pglite.
  if (backend === 'pglite' && !opts.dataDir) cpSync(await pgliteTemplate(), join(dataDir, 'pglite'), { recursive: true });
  const pgDb = backend === 'postgres' ? await freshPostgresDatabase() : undefined;
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    AGENTWIRE_DATA_DIR: dataDir,
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    REQUESTS_PER_MINUTE: '100000',
    // Tests drive far more traffic per user than a person would; tests/attack sets the real limits.
    FRAMES_PER_SECOND: '100000',
    HTTP_REQUESTS_PER_MINUTE: '1000000',
    REGISTRATIONS_PER_ADDRESS: '1000000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...(pgDb ? { DATABASE_URL: pgDb.url } : {}),
    ...opts.env,
  };
  const fromEnv = readEnv(env);
  if (fromEnv.issues.length > 0) throw new Error(fromEnv.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  const merged: Record<string, unknown> = { ...fromEnv.options };
  for (const [k, v] of Object.entries(opts.options ?? {})) {
    const base = merged[k];
    merged[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof base === 'object' ? { ...base, ...v } : v;
  }
  const config = toConfig(parseSettings(merged as Settings));
  // The built-in analyst, registered as `npm start` registers it, beside the test's own agents.
  const builtIn = analyst();
  const runtime = new Runtime({
    config,
    log: opts.log ?? createLogger(config.logLevel),
    ...(opts.tracerProvider ? { tracerProvider: opts.tracerProvider } : {}),
    agents: [...builtIn.agents, ...(opts.agents ?? [])],
    tools: [...builtIn.tools, ...(opts.tools ?? [])],
    toolContext: builtIn.toolContext,
    onUserCreated: builtIn.onUserCreated,
    pollIntervalMs: opts.pollIntervalMs ?? 500,
  });
  const port = await runtime.start();
  const url = `http://127.0.0.1:${port}`;
  const wsUrl = `ws://127.0.0.1:${port}/v1/ws`;
  const clients: TestClient[] = [];

  const server: TestServer = {
    backend,
    runtime,
    url,
    wsUrl,
    dataDir,
    async register(username = `user${++counter}_${Date.now().toString(36)}`, password = 'correct horse battery') {
      const { userId, token } = await register(url, { username, password });
      return { userId, username, password, token };
    },
    async connect(token, o = {}) {
      const client = await TestClient.open(`${wsUrl}${o.query ?? ''}`, {
        protocols: o.protocols ?? ['agentwire.v1', `bearer.${token}`],
        ...(o.headers ? { headers: o.headers } : {}),
      });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) c.terminate();
      await runtime.stop();
      await pgDb?.drop();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
