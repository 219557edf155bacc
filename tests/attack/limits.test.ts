// Every limit of docs/security.md pushed past its bound on a real server: login brute force per
// account and per address, frames per second (then 1008 for a socket that keeps flooding), HTTP
// requests per minute, open sockets per user, a body that never finishes (slow POST), slowloris
// upgrades, a compressed frame (deflate bomb), and the protected /metrics. Each refusal is
// `rate_limited` with `retryAfterMs`, or the protocol's code. The tests use their own users and
// addresses, so they run concurrently (the slowloris one waits on uWS's own ~10 s timer).
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { primaryBackend } from '../helpers/backends.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import { httpStatus, rawUpgrade, ready, upgradeStatus } from './support.js';

const METRICS_TOKEN = 'metrics-token-for-the-attack-suite';

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

describe.concurrent(`limits on ${primaryBackend}`, () => {
  let server: TestServer;
  let alice: TestUser;

  beforeAll(async () => {
    server = await startServer(primaryBackend, {
      env: {
        LOGIN_ATTEMPTS_PER_ACCOUNT: '5',
        LOGIN_ATTEMPTS_PER_ADDRESS: '8',
        // The helper registers this file's 7 users from 127.0.0.1; the probe uses another address.
        REGISTRATIONS_PER_ADDRESS: '10',
        CLIENT_ADDRESS_HEADER: 'x-real-ip',
        FRAMES_PER_SECOND: '5',
        HTTP_REQUESTS_PER_MINUTE: '30',
        MAX_SOCKETS_PER_USER: '3',
        HTTP_BODY_TIMEOUT_MS: '500',
        METRICS_TOKEN,
      },
    });
    alice = await server.register();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const login = (username: string, password: string, address: string) =>
    fetch(`${server.url}/v1/auth/login`, { method: 'POST', headers: { 'x-real-ip': address }, body: JSON.stringify({ username, password }) });

  describe('login brute force', () => {
    it('per account: after 5 failures even the right password is refused with rate_limited and retryAfterMs, from any address', async () => {
      const u = await server.register();
      for (let i = 0; i < 5; i++) expect((await login(u.username, `wrong password ${i}`, `10.1.0.${i}`)).status).toBe(401);
      const limited = await login(u.username, u.password, '10.1.0.99');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      const body = (await limited.json()) as { error: { code: string; retryAfterMs: number } };
      expect(body.error.code).toBe('rate_limited');
      expect(body.error.retryAfterMs).toBeGreaterThan(0);
    });

    it('per account: a parallel burst of 15 guesses gets at most 5 checked', async () => {
      const u = await server.register();
      const statuses = await Promise.all(Array.from({ length: 15 }, (_, i) => login(u.username, `guess number ${i}`, `10.2.0.${i}`).then((r) => r.status)));
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);
      expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    });

    it('per address: 8 failures over many accounts lock that address only; another address still logs in', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await login(`victim_${i}_x`, 'wrong password', '10.3.0.1')).status);
      expect(statuses.slice(0, 8).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(8).every((s) => s === 429)).toBe(true);
      expect((await login(alice.username, alice.password, '10.3.0.1')).status).toBe(429);
      expect((await login(alice.username, alice.password, '10.3.0.2')).status).toBe(200);
    });

    it('registrations per address: the eleventh from one address is 429 rate_limited; another address still registers', async () => {
      const register = (username: string, address: string) =>
        fetch(`${server.url}/v1/auth/register`, { method: 'POST', headers: { 'x-real-ip': address }, body: JSON.stringify({ username, password: 'correct horse battery' }) });
      const tag = Math.random().toString(36).slice(2, 8);
      // Taken usernames count too: a 409 costs a scrypt hash as well.
      for (let i = 0; i < 10; i++) expect((await register(`flood_${tag}_${i % 2}`, '10.5.0.1')).status).toBeOneOf([201, 409]);
      const refused = await register(`flood_${tag}_x`, '10.5.0.1');
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string; retryAfterMs: number } }).error).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
      expect((await register(`flood_${tag}_y`, '10.5.0.2')).status).toBe(201);
    });

    it('successful logins do not count', async () => {
      for (let i = 0; i < 10; i++) expect((await login(alice.username, alice.password, '10.4.0.1')).status).toBe(200);
    });
  });

  it('frames per second: past the burst, rate_limited with retryAfterMs (socket open); a socket that keeps flooding is closed with 1008', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await ready(c);
    for (let i = 0; i < 20; i++) c.send({ type: 'ping', id: i });
    await c.waitFor((f) => f.type === 'error' && f.code === 'rate_limited');
    await until(() => c.frames.filter((f) => f.type === 'pong' || f.type === 'error').length === 20, 'an answer to each of 20 pings');
    const pongs = c.frames.filter((f) => f.type === 'pong').length;
    expect(pongs).toBeGreaterThanOrEqual(5);
    expect(pongs).toBeLessThan(20);
    expect(c.frames.find((f) => f.type === 'error')).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    expect(c.closeCode).toBeUndefined();
    // The bucket refills: pings are answered again (tests/unit/limits/rate-limit checks that waiting retryAfterMs is enough).
    let n = 0;
    await until(async () => {
      // Every earlier ping is answered, and answers come in order: the next answer is this ping's.
      const from = c.frames.length;
      c.send({ type: 'ping', id: `after-${++n}` });
      const f = await c.waitFor((x) => x.type === 'pong' || x.type === 'error', from);
      return f.type === 'pong';
    }, 'the frame budget to refill', 10_000, 100);

    // 300 frames at once: more than 100 refused in a row is abuse.
    for (let i = 0; i < 300; i++) c.send({ type: 'ping' });
    expect(await c.closed).toBe(1008);
    // Other users are not affected.
    const other = await server.connect(alice.token);
    await ready(other);
    other.send({ type: 'ping', id: 'x' });
    await other.waitType('pong');
    await other.close();
  });

  it('HTTP requests per minute per user: 30, then 429 rate_limited with retryAfterMs; another user is unaffected', async () => {
    const u = await server.register();
    const statuses = [];
    for (let i = 0; i < 31; i++) statuses.push(await httpStatus(server, u.token));
    expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
    const res = await fetch(`${server.url}/v1/threads`, { headers: { authorization: `Bearer ${u.token}` } });
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { code: string; retryAfterMs: number } }).error).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    expect(await httpStatus(server, alice.token)).toBe(200);
  });

  it('open sockets per user: the fourth upgrade is 429 rate_limited with retryAfterMs; closing one makes room', async () => {
    const u = await server.register();
    const open = [];
    for (let i = 0; i < 3; i++) {
      const c = await server.connect(u.token);
      await ready(c);
      open.push(c);
    }
    expect(await upgradeStatus(server.connect(u.token))).toBe(429);
    const raw = await rawUpgrade(server, { Authorization: `Bearer ${u.token}` });
    expect(raw.status).toBe(429);
    expect(JSON.parse(raw.body)).toMatchObject({ error: { code: 'rate_limited', retryAfterMs: expect.any(Number) } });
    await open[0]!.close();
    await until(async () => (await upgradeStatus(server.connect(u.token))) === 101, 'room for a socket after one closed');
    for (const c of open.slice(1)) await c.close();

    // Parallel upgrades cannot overshoot the limit.
    const v = await server.register();
    const burst = await Promise.allSettled(Array.from({ length: 8 }, () => server.connect(v.token)));
    const opened = burst.filter((r) => r.status === 'fulfilled');
    expect(opened.length).toBe(3);
    for (const r of opened) await r.value.close();
  });

  it('a body that never finishes (slow POST) is answered 408 and the connection closed', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const url = new URL(server.url);
      const sock = netConnect(Number(url.port), url.hostname, () => {
        sock.write(
          `POST /v1/usage HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\nday,feature`,
        );
      });
      let data = '';
      sock.on('data', (d) => (data += d.toString('utf8')));
      sock.on('close', () => resolve(data));
      sock.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('"code":"bad_request"');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('/metrics with METRICS_TOKEN set: 401 without the bearer or with a wrong one, 200 with it', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token-wrong' } })).status).toBe(401);
    const ok = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('agentwire_open_sockets');
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
