// `npm run bench:waiting`: what runs waiting for their user hold, and how fast an answer
// continues one. One in-process server (PGlite in memory; PostgreSQL with DATABASE_URL), an agent
// that asks its user once. N runs are started and left waiting; then, with a forced GC:
//   - the worker's slots in use and the leases held by waiting runs (expected: none),
//   - the heap and RSS growth against the same server before the runs (expected: no per-run state),
//   - rows: runs in status `waiting`;
// then each run is answered, one at a time, and the time from sending `provide_input` to the
// `input_received` event (stored and sent) and to the first event of the continued run
// (`agent_output`, after a worker claimed and replayed it) is reported, p50 and p99.
//   node --expose-gc --import tsx bench/waiting.ts [--runs 1000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { Agent } from '../src/agents/types.js';
import { parseSettings, readEnv, toConfig, type Settings } from '../src/config/index.js';
import { createLogger } from '../src/log/logger.js';
import { Runtime } from '../src/runtime.js';
import { latencySummary, round } from './lib/stats.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '1000' } } });
const RUNS = Number(values.runs);

const asker: Agent = {
  name: 'asker',
  description: 'Bench agent: asks its user once, then answers.',
  async run(ctx) {
    const v = await ctx.ask<{ n: number }>({ kind: 'input', prompt: 'A number?', schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } });
    await ctx.output(`got ${v.n}`);
    return { text: `got ${v.n}` };
  },
};

type Frame = { type: string; runId?: string; interruptId?: string; [k: string]: unknown };

const gc = (globalThis as { gc?: () => void }).gc;
const mem = () => {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { heapMb: m.heapUsed / 2 ** 20, rssMb: m.rss / 2 ** 20 };
};

async function main() {
  if (!gc) console.warn('run with node --expose-gc for stable memory figures');
  const dataDir = mkdtempSync(join(tmpdir(), 'agentwire-bench-waiting-'));
  const env = readEnv({
    PORT: '0',
    HOST: '127.0.0.1',
    AGENTWIRE_DATA_DIR: process.env.DATABASE_URL ? dataDir : 'memory://',
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
    REQUESTS_PER_MINUTE: '1000000',
    FRAMES_PER_SECOND: '100000',
    HTTP_REQUESTS_PER_MINUTE: '1000000',
    LOG_LEVEL: 'warn',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  });
  if (env.issues.length > 0) throw new Error(env.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  const config = toConfig(parseSettings(env.options as Settings));
  const runtime = new Runtime({ config, log: createLogger(config.logLevel), agents: [asker], tools: [], pollIntervalMs: 500 });
  const port = await runtime.start();
  const url = `http://127.0.0.1:${port}`;
  const username = `bench_${Date.now().toString(36)}`;
  const password = 'bench password long';
  await fetch(`${url}/v1/auth/register`, { method: 'POST', body: JSON.stringify({ username, password }) });
  const { token } = (await (await fetch(`${url}/v1/auth/login`, { method: 'POST', body: JSON.stringify({ username, password }) })).json()) as { token: string };
  const listeners = new Set<(f: Frame, at: number) => void>();
  const connect = () => {
    const s = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, ['agentwire.v1', `bearer.${token}`]);
    s.on('message', (data) => {
      const at = performance.now();
      const f = JSON.parse(String(data)) as Frame;
      for (const l of listeners) l(f, at);
    });
    return s;
  };
  /** Sockets keep a cursor per run they carry: memory is measured with none open, so only the runs' own state counts. */
  const closed = (s: WebSocket) => new Promise<void>((resolve) => (s.readyState === WebSocket.CLOSED ? resolve() : (s.once('close', () => resolve()), s.close())));
  let ws = connect();
  const waitFor = (pred: (f: Frame) => boolean) =>
    new Promise<number>((resolve) => {
      const l = (f: Frame, at: number) => {
        if (!pred(f)) return;
        listeners.delete(l);
        resolve(at);
      };
      listeners.add(l);
    });
  await waitFor((f) => f.type === 'session_ready');

  // Warm the paths once, then take the baseline.
  const questions = new Map<string, string>();
  listeners.add((f) => {
    if (f.type === 'error') console.error('refused:', JSON.stringify(f));
    if (f.type === 'input_requested' && f.runId && f.interruptId) questions.set(f.runId, f.interruptId);
  });
  const ask = (i: number) => ws.send(JSON.stringify({ type: 'agent_request', requestId: `r${i}`, input: { text: `run ${i}` }, agent: 'asker' }));
  ask(-1);
  await waitFor((f) => f.type === 'input_requested');
  const warmRun = [...questions.keys()][0]!;
  ws.send(JSON.stringify({ type: 'provide_input', runId: warmRun, interruptId: questions.get(warmRun), value: { n: 0 } }));
  await waitFor((f) => f.type === 'agent_completed' && f.runId === warmRun);
  questions.clear();
  await closed(ws);
  const before = mem();
  ws = connect();
  await waitFor((f) => f.type === 'session_ready');

  const t0 = performance.now();
  const asked = (n: number) =>
    new Promise<void>((resolve) => {
      const l = () => {
        if (questions.size < n) return;
        listeners.delete(l);
        resolve();
      };
      listeners.add(l);
      l();
    });
  // In batches: a socket may have at most 256 frames waiting to be handled (docs/protocol.md).
  for (let i = 0; i < RUNS; i += 100) {
    for (let j = i; j < Math.min(RUNS, i + 100); j++) ask(j);
    await asked(Math.min(RUNS, i + 100));
  }
  const parkSeconds = (performance.now() - t0) / 1000;
  const db = runtime.database;
  // The last park commits right after its event is announced: wait for the rows to say so.
  for (;;) {
    const [r] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM runs WHERE status = 'waiting'`);
    if ((r?.n ?? 0) >= RUNS) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  await closed(ws);
  // Let the server notice the close and drop the socket's state.
  await new Promise((res) => setTimeout(res, 500));
  const after = mem();
  const [rows] = await db.query<{ waiting: number; leased: number; jobs: number }>(
    `SELECT count(*) FILTER (WHERE status = 'waiting')::int AS waiting,
            count(*) FILTER (WHERE status = 'waiting' AND (lease_owner IS NOT NULL OR lease_expires_at IS NOT NULL))::int AS leased,
            0 AS jobs FROM runs`,
  );
  const held = {
    runs: RUNS,
    parkedInSeconds: round(parkSeconds, 2),
    workerSlotsInUse: runtime.activeRuns,
    waitingRows: rows?.waiting,
    leasesHeldByWaitingRuns: rows?.leased,
    heapGrowthMb: round(after.heapMb - before.heapMb, 2),
    rssGrowthMb: round(after.rssMb - before.rssMb, 1),
    heapBytesPerWaitingRun: Math.round(((after.heapMb - before.heapMb) * 2 ** 20) / RUNS),
  };
  console.log(JSON.stringify({ held }, null, 2));

  // Answers from a new socket, one at a time: nothing else in flight.
  ws = connect();
  await waitFor((f) => f.type === 'session_ready');
  const lastSeq = 2; // agent_started, input_requested
  const toReceived: number[] = [];
  const toContinued: number[] = [];
  for (const [runId, interruptId] of questions) {
    const received = waitFor((f) => f.type === 'input_received' && f.runId === runId);
    const continued = waitFor((f) => f.type === 'agent_output' && f.runId === runId);
    const done = waitFor((f) => f.type === 'agent_completed' && f.runId === runId);
    ws.send(JSON.stringify({ type: 'resume', runs: [{ runId, afterSeq: lastSeq }] }));
    const sent = performance.now();
    ws.send(JSON.stringify({ type: 'provide_input', runId, interruptId, value: { n: 1 } }));
    toReceived.push((await received) - sent);
    toContinued.push((await continued) - sent);
    await done;
  }
  const summary = (xs: number[]) => {
    const s = latencySummary(xs);
    return { n: s.n, p50Ms: round(s.p50, 2), p99Ms: round(s.p99, 2), maxMs: round(s.max, 2) };
  };
  console.log(JSON.stringify({ answer: { toInputReceived: summary(toReceived), toNextRunEvent: summary(toContinued) }, backend: process.env.DATABASE_URL ? 'postgres' : 'pglite' }, null, 2));
  ws.close();
  await runtime.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

await main();
