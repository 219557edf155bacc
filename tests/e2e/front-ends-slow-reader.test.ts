// An SSE answer whose reader stops reading: the server stops reading the run's log for it once
// uWS holds unsent bytes, so what it buffers stays bounded (one event's frames past uWS's buffer)
// however much the run produces; once the client reads again it gets the rest from the log, once.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floodAgent } from '../helpers/agents.js';
import { primaryBackend } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const PIECES = 200;
// 200 × 64 KiB = 12.5 MiB: beyond what the kernel buffers on loopback (a send buffer of up to
// 4 MiB here, and the receive window of a reader that reads nothing).
const SIZE = 64 * 1024;

describe(`slow SSE reader on ${primaryBackend}`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(primaryBackend, { agents: [floodAgent(PIECES, SIZE)] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('pauses delivery while the reader does not read (bounded server memory), then catches up from the log', async () => {
    const u = await server.register();
    const body = JSON.stringify({ id: 'slow-chat', messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'flood' }] }], agent: 'flood' });
    const chunks: Buffer[] = [];
    let resume: (() => void) | undefined;
    const ended = new Promise<void>((resolve, reject) => {
      const req = request(`${server.url}/v1/ai-sdk/chat`, { method: 'POST', headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' } }, (res) => {
        // Read nothing at the TCP level: the window closes and the server's writes back up.
        res.pause();
        res.socket.pause();
        resume = () => {
          res.on('data', (c: Buffer) => chunks.push(c));
          res.socket.resume();
          res.resume();
        };
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    await until(() => resume !== undefined, 'the answer to start');
    // The run completes while the reader reads nothing.
    const run = await until(async () => {
      const rows = await server.runtime.database.query<{ id: string; status: string }>(`SELECT id, status FROM runs WHERE agent = 'flood'`);
      return rows[0]?.status === 'completed' ? rows[0] : undefined;
    }, 'the flood run to complete');
    const storedBytes = (await server.runtime.database.query<{ n: number }>(`SELECT sum(octet_length(body::text))::int AS n FROM run_events WHERE run_id = $1`, [run.id]))[0]!.n;
    const [stats] = await until(() => (server.runtime.followers?.stats().length === 1 ? server.runtime.followers.stats() : undefined), 'the open stream');
    console.log(`slow SSE reader: run stored ${storedBytes} bytes; stream paused=${stats!.paused}, written ${stats!.written} bytes, held since last drain ${stats!.sinceDrain} (max ${stats!.maxSinceDrain})`);
    expect(stats!.paused).toBe(true);
    // What uWS may hold beyond the kernel: at most the one event's frames that met the full buffer.
    expect(stats!.maxSinceDrain).toBeLessThan(2 * SIZE + 4096);
    expect(stats!.written).toBeLessThan(storedBytes);

    resume?.();
    await ended;
    const text = Buffer.concat(chunks).toString('utf8');
    const deltas = [...text.matchAll(/"type":"text-delta","id":"[^"]+","delta":"([^"]*)"/g)].map((m) => m[1]);
    expect(deltas).toHaveLength(PIECES);
    expect(deltas.map((d) => d!.slice(0, 6))).toEqual(Array.from({ length: PIECES }, (_, i) => String(i).padStart(6, '0')));
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(server.runtime.followers?.stats()).toEqual([]);
  });
});
