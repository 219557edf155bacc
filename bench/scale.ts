// Golden-path throughput and latency with one process, and with a gateway plus one or two
// worker processes, all on one PostgreSQL (a private server this script starts). Closed loop:
// each client asks, waits for the terminal event, asks again. Configurations are interleaved
// over several rounds and medians reported, because timings on a shared 2-core machine are noisy.
//   node --import tsx bench/scale.ts [--seconds 10] [--rounds 3] [--clients 50] [--tracing]
// --tracing compares one process with tracing off and on instead: on, it exports every span over
// OTLP/HTTP to a sink in this process that answers 200 and counts what it received.
import { execSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startNode, type NodeProcess } from '../tests/helpers/node-process.js';
import { startPgCluster } from '../tests/helpers/pg-cluster.js';
import { TestClient } from '../tests/helpers/client.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '50' },
    tracing: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CLIENTS = Number(values.clients);
const WARMUP_MS = 2_000;

interface Result {
  config: string;
  round: number;
  runs: number;
  runsPerSec: number;
  p50: number;
  p90: number;
  p99: number;
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function measure(config: string, round: number, roles: string[], databaseUrl: string, extraEnv: Record<string, string> = {}): Promise<Result> {
  // A fresh database per measurement: nothing left over from the previous one.
  const db = `bench_${config.replace(/\W/g, '_')}_${round}`;
  execSync(`psql "${databaseUrl}" -qc "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" -c "CREATE DATABASE ${db}"`);
  const url = databaseUrl.replace(/\/[^/]*$/, `/${db}`);
  const nodes: NodeProcess[] = [];
  try {
    for (const [i, role] of roles.entries()) {
      nodes.push(
        await startNode(
          { DATABASE_URL: url, ROLE: role, NODE_ID: `${role}-${i}`, LOG_LEVEL: 'info', WORKER_CONCURRENCY: '200', DEFAULT_AGENT: 'bench', ...extraEnv },
          'bench/node.ts',
        ),
      );
    }
    const front = nodes[0]!;
    const users = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const creds = { username: `bench${i}`, password: 'benchmark password' };
        await fetch(`${front.url}/v1/auth/register`, { method: 'POST', body: JSON.stringify(creds) });
        const { token } = (await (await fetch(`${front.url}/v1/auth/login`, { method: 'POST', body: JSON.stringify(creds) })).json()) as { token: string };
        const c = await TestClient.open(front.wsUrl, { protocols: ['agentwire.v1', `bearer.${token}`] });
        await c.waitType('session_ready');
        return c;
      }),
    );
    const latencies: number[] = [];
    const started = Date.now();
    const measureFrom = started + WARMUP_MS;
    const end = measureFrom + SECONDS * 1000;
    let n = 0;
    await Promise.all(
      users.map(async (c) => {
        while (Date.now() < end) {
          const t0 = Date.now();
          const acc = await c.request('go', { requestId: `r${n++}` });
          await c.waitFor((f) => f.runId === acc.runId && f.type === 'agent_completed');
          const t1 = Date.now();
          if (t0 >= measureFrom && t1 <= end) latencies.push(t1 - t0);
          c.frames.length = 0; // keep the client's memory flat
        }
      }),
    );
    for (const c of users) c.terminate();
    latencies.sort((a, b) => a - b);
    return {
      config,
      round,
      runs: latencies.length,
      runsPerSec: Math.round(latencies.length / SECONDS),
      p50: pct(latencies, 0.5),
      p90: pct(latencies, 0.9),
      p99: pct(latencies, 0.99),
    };
  } finally {
    for (const node of nodes) node.kill('SIGKILL');
    await Promise.all(nodes.map((node) => node.exited));
  }
}

// An OTLP/HTTP endpoint that accepts everything: the cost measured is agentwire's, not a collector's.
const sink = { requests: 0, bytes: 0 };
const sinkServer = createServer((req, res) => {
  sink.requests++;
  req.on('data', (chunk: Buffer) => (sink.bytes += chunk.length));
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
if (values.tracing) await new Promise<void>((resolve) => sinkServer.listen(0, '127.0.0.1', resolve));
const sinkUrl = values.tracing ? `http://127.0.0.1:${(sinkServer.address() as AddressInfo).port}` : '';

const configs: Array<[string, string[], Record<string, string>]> = values.tracing
  ? [
      ['one process, tracing off', ['both'], {}],
      ['one process, tracing on', ['both'], { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_SERVICE_NAME: 'agentwire-bench' }],
    ]
  : [
      ['one process (both)', ['both'], {}],
      ['gateway + 1 worker', ['gateway', 'worker'], {}],
      ['gateway + 2 workers', ['gateway', 'worker', 'worker'], {}],
    ];

const cluster = await startPgCluster();
const results: Result[] = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, roles, env] of configs) {
      const r = await measure(name, round, roles, cluster.url, env);
      results.push(r);
      console.log(JSON.stringify(r));
    }
  }
} finally {
  cluster.dispose();
  sinkServer.close();
}
if (values.tracing) console.log(`OTLP sink received ${sink.requests} requests, ${sink.bytes} bytes`);

const summary = configs.map(([name]) => {
  const rs = results.filter((r) => r.config === name);
  return {
    config: name,
    runsPerSec: median(rs.map((r) => r.runsPerSec)),
    p50: median(rs.map((r) => r.p50)),
    p90: median(rs.map((r) => r.p90)),
    p99: median(rs.map((r) => r.p99)),
  };
});
console.table(summary);
const commit = execSync('git rev-parse --short HEAD').toString().trim();
const file = join(import.meta.dirname, 'results', `scale-${commit}-c${CLIENTS}${values.tracing ? '-tracing' : ''}.json`);
const extra = values.tracing ? { otlpSink: sink } : {};
writeFileSync(file, JSON.stringify({ commit, date: new Date().toISOString(), seconds: SECONDS, rounds: ROUNDS, clients: CLIENTS, results, summary, ...extra }, null, 2));
console.log(`written ${file}`);
