// Connection-level attacks: slowloris upgrades (headers that never finish) are closed by uWS's own
// HTTP timeout while everyone else is served; permessage-deflate is never negotiated, and a frame
// sent compressed anyway (RSV1 set, a deflate bomb) is not inflated: the connection is dropped.
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { primaryBackend } from '../helpers/backends.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';
import { ready } from './support.js';

/** A client frame: masked, as RFC 6455 requires. `first` is the FIN/RSV/opcode byte. */
function maskedFrame(first: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([first, 0x80 | len]) : len < 65536 ? Buffer.from([first, 0x80 | 126, len >> 8, len & 0xff]) : Buffer.alloc(10);
  if (len >= 65536) {
    head[0] = first;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

/** Opens a raw upgraded connection; resolves with the socket and the 101 response's head. */
function rawSocket(server: TestServer, headers: Record<string, string>): Promise<{ sock: Socket; head: string; received: Buffer[]; closed: Promise<void> }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const sock = netConnect(Number(url.port), url.hostname);
    const received: Buffer[] = [];
    let head = '';
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', () => undefined);
    sock.once('connect', () => {
      const lines = [
        'GET /v1/ws HTTP/1.1',
        `Host: ${url.host}`,
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      sock.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    sock.on('data', (d) => {
      if (!head) {
        const s = d.toString('latin1');
        const end = s.indexOf('\r\n\r\n');
        if (end < 0) return reject(new Error('partial head'));
        head = s.slice(0, end);
        if (end + 4 < d.length) received.push(d.subarray(end + 4));
        resolve({ sock, head, received, closed });
      } else received.push(d);
    });
  });
}

describe(`connection attacks on ${primaryBackend}`, () => {
  let server: TestServer;
  let alice: TestUser;

  beforeAll(async () => {
    server = await startServer(primaryBackend);
    alice = await server.register();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('slowloris: 20 upgrades whose headers trickle in forever are closed by the server, which serves others meanwhile', async () => {
    const url = new URL(server.url);
    const timers: NodeJS.Timeout[] = [];
    const slow = Array.from({ length: 20 }, (_, i) => {
      const sock = netConnect(Number(url.port), url.hostname);
      sock.on('error', () => undefined);
      sock.once('connect', () => {
        sock.write(`GET /v1/ws HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n`);
        // The attack: one more header line now and then, never the blank line that ends them.
        timers.push(setInterval(() => sock.writable && sock.write(`X-Slow-${i}: ${'a'.repeat(20)}\r\n`), 1000));
      });
      return new Promise<string>((resolve) => {
        let data = '';
        sock.on('data', (d) => (data += d.toString('latin1')));
        sock.on('close', () => resolve(data));
      });
    });
    try {
      // While they hang on, the server works for everyone else.
      const c = await server.connect(alice.token);
      await ready(c);
      c.send({ type: 'ping', id: 'during' });
      await c.waitFor((f) => f.type === 'pong');
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      await c.close();
      // uWS's HTTP timeout (about 10 s, not reset by trickled data) closes each one, unanswered.
      const answers = await Promise.all(slow);
      expect(answers.every((a) => !a.startsWith('HTTP/1.1 101'))).toBe(true);
    } finally {
      for (const t of timers) clearInterval(t);
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('permessage-deflate is not negotiated; a compressed frame (a 16 MiB deflate bomb, RSV1 set) is not inflated: the connection is dropped', async () => {
    const { sock, head, received, closed } = await rawSocket(server, {
      Authorization: `Bearer ${alice.token}`,
      'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
    });
    expect(head).toMatch(/^HTTP\/1\.1 101/);
    expect(head.toLowerCase()).not.toContain('sec-websocket-extensions');
    // A compressed ping first: if the server inflated it, it would answer a pong.
    const ping = deflateRawSync(Buffer.from(JSON.stringify({ type: 'ping', id: 'compressed' })));
    const bomb = deflateRawSync(Buffer.alloc(16 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    sock.write(Buffer.concat([maskedFrame(0xc1, ping.subarray(0, ping.length - 4)), maskedFrame(0xc1, bomb)]));
    await closed;
    const text = Buffer.concat(received).toString('latin1');
    expect(text).not.toContain('"pong"');
    expect(text).not.toContain('compressed');
    // The process is unharmed.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
