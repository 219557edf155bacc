// 1,000 concurrent SSE answers (the AI SDK route of docs/front-ends.md) on one process, beside
// the same number of sockets carrying the same run: time to first chunk (p50/p99, from the
// request's start to its first run frame, connection set-up included) and server memory per
// stream (resident memory after full GCs, all streams open, minus before, over N). One agentwire
// process (bench/node.ts) on embedded PGlite; one user; one run that stays in progress.
//   node --import tsx bench/streams.ts [--streams 1000] [--rounds 1]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { startServer } from './lib/proc.js';
import { latencySummary, median, round } from './lib/stats.js';
import { BENCH_SECRET, registerUsers } from './lib/users.js';

const { values } = parseArgs({ options: { streams: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '1' } } });
const N = Number(values.streams);
const ROUNDS = Number(values.rounds);

const dir = mkdtempSync(join(tmpdir(), 'bench-streams-'));
const server = await startServer('streams', 'bench/node.ts', {
  AGENTWIRE_DATA_DIR: dir,
  JWT_SECRET: BENCH_SECRET,
  MAX_SOCKETS_PER_USER: String(N * 2),
  HTTP_REQUESTS_PER_MINUTE: '1000000',
  REQUESTS_PER_MINUTE: '1000000',
  FRAMES_PER_SECOND: '100000',
});
const results: Array<{ kind: string; round: number; p50: number; p99: number; max: number; bytesPerStream: number; heapPerStream: number }> = [];
try {
  const [token] = await registerUsers(server.url, 1, 1);
  const auth = { authorization: `Bearer ${token}` };
  // The run every stream carries: in progress for the whole benchmark.
  const first = await fetch(`${server.url}/v1/ai-sdk/chat`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'bench-chat', agent: 'bench_paced', messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'paced 10000 1000' }] }] }),
  });
  const reader = first.body!.getReader();
  const head = new TextDecoder().decode((await reader.read()).value);
  const runId = /"runId":"([^"]+)"/.exec(head)?.[1];
  if (!runId) throw new Error(`no run id in ${head}`);
  await reader.cancel();

  const sse = async (): Promise<{ latencies: number[]; close: () => void }> => {
    const controllers: AbortController[] = [];
    const latencies = await Promise.all(
      Array.from({ length: N }, async () => {
        const c = new AbortController();
        controllers.push(c);
        const t0 = performance.now();
        const res = await fetch(`${server.url}/v1/ai-sdk/chat/bench-chat/stream?runId=${runId}&afterSeq=0`, { headers: auth, signal: c.signal });
        const r = res.body!.getReader();
        for (;;) {
          const { value } = await r.read();
          if (value && new TextDecoder().decode(value).includes('data: ')) break;
        }
        const ms = performance.now() - t0;
        r.releaseLock();
        return ms;
      }),
    );
    return { latencies, close: () => controllers.forEach((c) => c.abort()) };
  };

  const sockets = async (): Promise<{ latencies: number[]; close: () => void }> => {
    const open: WebSocket[] = [];
    const latencies = await Promise.all(
      Array.from(
        { length: N },
        () =>
          new Promise<number>((resolve, reject) => {
            const t0 = performance.now();
            const ws = new WebSocket(server.wsUrl, ['agentwire.v1', `bearer.${token}`]);
            open.push(ws);
            let done = false;
            ws.on('message', (data: Buffer) => {
              const f = JSON.parse(data.toString()) as { type: string; runId?: string };
              if (f.type === 'session_ready') ws.send(JSON.stringify({ type: 'resume', runs: [{ runId, afterSeq: 0 }] }));
              else if (!done && f.runId === runId && f.type.startsWith('agent_')) {
                done = true;
                resolve(performance.now() - t0);
              }
            });
            ws.on('error', reject);
          }),
      ),
    );
    return { latencies, close: () => open.forEach((ws) => ws.terminate()) };
  };

  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    for (const [kind, open] of [
      ['sse', sse],
      ['socket', sockets],
    ] as const) {
      const before = await server.memoryAfterGc();
      const { latencies, close } = await open();
      const after = await server.memoryAfterGc();
      close();
      const s = latencySummary(latencies);
      const row = { kind, round: round_, p50: s.p50, p99: s.p99, max: s.max, bytesPerStream: Math.round((after.rss - before.rss) / N), heapPerStream: Math.round((after.heapUsed - before.heapUsed) / N) };
      results.push(row);
      console.log(JSON.stringify({ ...row, n: s.n, rssBefore: before.rss, rssAfter: after.rss }));
      // Let the server see every stream go before the next measurement.
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  for (const kind of ['sse', 'socket']) {
    const rows = results.filter((r) => r.kind === kind);
    console.log(
      `${kind}: ${N} concurrent, time to first chunk p50 ${round(median(rows.map((r) => r.p50)))} ms, p99 ${round(median(rows.map((r) => r.p99)))} ms; server memory ${round(median(rows.map((r) => r.bytesPerStream)) / 1024)} KiB RSS, ${round(median(rows.map((r) => r.heapPerStream)) / 1024)} KiB heap per stream (medians of ${rows.length} round(s))`,
    );
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
