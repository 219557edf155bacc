// Authentication end to end (PROTOCOL sections 1 and 2): every forged or stale credential is refused
// at the HTTP upgrade with 401 and no socket; valid ones open a socket through each carrier; tickets
// work once; the Origin allow-list answers 403; register/login answer as the table says; a token
// that expires while its socket is open closes the socket with 4401.
import { randomBytes, randomUUID } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { primaryBackend } from '../helpers/backends.js';
import { TestClient } from '../helpers/client.js';
import { rawUpgrade, upgradeStatus } from '../helpers/raw-upgrade.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';
import { post as postTo } from '../helpers/http.js';

const SECRET = 'test-secret-test-secret-test-secret-0123456789'; // tests/helpers/server.ts
const KEY = new TextEncoder().encode(SECRET);
const ISS = 'agentwire';
const AUD = 'agentwire';

const nowS = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

interface Claims {
  sub?: string;
  iss?: string;
  aud?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
}

async function sign(claims: Claims, key: Uint8Array = KEY): Promise<string> {
  let jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt(claims.iat ?? nowS());
  if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
  if (claims.iss !== undefined) jwt = jwt.setIssuer(claims.iss);
  if (claims.aud !== undefined) jwt = jwt.setAudience(claims.aud);
  if (claims.exp !== undefined) jwt = jwt.setExpirationTime(claims.exp);
  if (claims.nbf !== undefined) jwt = jwt.setNotBefore(claims.nbf);
  return jwt.sign(key);
}

/** Waits for session_ready, failing fast (not by timeout) if the socket closes first. */
function ready(client: TestClient) {
  return Promise.race([
    client.waitType('session_ready'),
    client.closed.then((code) => {
      throw new Error(`socket closed with ${code} before session_ready`);
    }),
  ]);
}

/** POSTs JSON to the test server (tests/helpers/http.ts). */
const post = (server: TestServer, path: string, body: unknown, headers: Record<string, string> = {}) => postTo(server.url, path, body, headers);

async function openSockets(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = /^agentwire_open_sockets (\d+)$/m.exec(text);
  return Number(m?.[1] ?? NaN);
}

describe(`auth on ${primaryBackend}`, () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const forged: Record<string, () => Promise<string>> = {};

  beforeAll(async () => {
    server = await startServer(primaryBackend);
    alice = await server.register();
    bob = await server.register();

    forged['garbage'] = async () => 'garbage';
    forged['three dotted garbage segments'] = async () => 'aaaa.bbbb.cccc';
    forged['alg none (unsigned, valid-looking claims)'] = async () =>
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: alice.userId, iss: ISS, aud: AUD, iat: nowS(), exp: nowS() + 3600 })}.`;
    forged['alg none with a signature segment kept'] = async () => {
      const sig = alice.token.split('.')[2]!;
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: alice.userId, iss: ISS, aud: AUD, iat: nowS(), exp: nowS() + 3600 })}.${sig}`;
    };
    forged['HS512 with the right secret (wrong algorithm)'] = async () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS512' })
        .setSubject(alice.userId)
        .setIssuer(ISS)
        .setAudience(AUD)
        .setIssuedAt()
        .setExpirationTime(nowS() + 3600)
        .sign(KEY);
    forged['signed with a wrong key'] = async () =>
      sign({ sub: alice.userId, iss: ISS, aud: AUD, exp: nowS() + 3600 }, new TextEncoder().encode('another-secret-another-secret-another-secret'));
    forged['tampered payload (sub changed, signature kept)'] = async () => {
      const [h, p, s] = alice.token.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
      expect(payload.sub).toBe(alice.userId);
      return `${h}.${b64({ ...payload, sub: bob.userId })}.${s}`;
    };
    forged['expired'] = async () => sign({ sub: alice.userId, iss: ISS, aud: AUD, iat: nowS() - 7200, exp: nowS() - 60 });
    forged['not yet valid (nbf in the future)'] = async () =>
      sign({ sub: alice.userId, iss: ISS, aud: AUD, nbf: nowS() + 600, exp: nowS() + 3600 });
    forged['wrong issuer'] = async () => sign({ sub: alice.userId, iss: 'someone-else', aud: AUD, exp: nowS() + 3600 });
    forged['no issuer'] = async () => sign({ sub: alice.userId, aud: AUD, exp: nowS() + 3600 });
    forged['wrong audience'] = async () => sign({ sub: alice.userId, iss: ISS, aud: 'another-service', exp: nowS() + 3600 });
    forged['no expiry'] = async () => sign({ sub: alice.userId, iss: ISS, aud: AUD });
    forged['no subject'] = async () => sign({ iss: ISS, aud: AUD, exp: nowS() + 3600 });
    forged['valid signature, user does not exist'] = async () => sign({ sub: randomUUID(), iss: ISS, aud: AUD, exp: nowS() + 3600 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  describe('refused at the upgrade with 401 and no socket', () => {
    it('no credential at all', async () => {
      const before = await openSockets(server);
      expect(await upgradeStatus(TestClient.open(server.wsUrl, { protocols: ['agentwire.v1'] }))).toBe(401);
      expect(await upgradeStatus(TestClient.open(server.wsUrl))).toBe(401);
      const raw = await rawUpgrade(server, { 'Sec-WebSocket-Protocol': 'agentwire.v1' });
      expect(raw.status).toBe(401);
      expect(JSON.parse(raw.body)).toMatchObject({ error: { code: 'unauthorized', message: expect.any(String) } });
      expect(raw.headers['x-content-type-options']).toBe('nosniff');
      // An empty bearer is no credential either.
      expect((await rawUpgrade(server, { Authorization: 'Bearer ' })).status).toBe(401);
      expect((await rawUpgrade(server, { 'Sec-WebSocket-Protocol': 'agentwire.v1, bearer.' })).status).toBe(401);
      expect(await openSockets(server)).toBe(before);
    });

    const cases = [
      'garbage',
      'three dotted garbage segments',
      'alg none (unsigned, valid-looking claims)',
      'alg none with a signature segment kept',
      'HS512 with the right secret (wrong algorithm)',
      'signed with a wrong key',
      'tampered payload (sub changed, signature kept)',
      'expired',
      'not yet valid (nbf in the future)',
      'wrong issuer',
      'no issuer',
      'wrong audience',
      'no expiry',
      'no subject',
      'valid signature, user does not exist',
    ];
    it.each(cases)('%s: subprotocol, Authorization header and as a ticket', async (name) => {
      const token = await forged[name]!();
      const before = await openSockets(server);
      expect(await upgradeStatus(server.connect(token))).toBe(401);
      expect(await upgradeStatus(server.connect(token, { protocols: ['agentwire.v1'], headers: { authorization: `Bearer ${token}` } }))).toBe(401);
      // A token is not a ticket.
      expect(await upgradeStatus(server.connect(token, { protocols: ['agentwire.v1'], query: `?ticket=${encodeURIComponent(token)}` }))).toBe(401);
      const raw = await rawUpgrade(server, { 'Sec-WebSocket-Protocol': `agentwire.v1, bearer.${token}` });
      expect(raw.status).toBe(401);
      expect(JSON.parse(raw.body)).toMatchObject({ error: { code: 'unauthorized' } });
      expect(raw.body).not.toContain(token);
      expect(await openSockets(server)).toBe(before);
      // The same token is refused on HTTP too.
      const res = await fetch(`${server.url}/v1/threads`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    });

    // FINDING (see report): a correctly signed token whose `sub` is not a UUID makes `userExists`
    // (src/store/users.ts) run `WHERE id = $1` on a uuid column, which throws; the upgrade answers 503
    // and HTTP answers 500 instead of 401.
    it('valid signature, subject that is not a UUID: 401 (not 503/500)', async () => {
      const token = await sign({ sub: 'not-a-uuid', iss: ISS, aud: AUD, exp: nowS() + 3600 });
      expect(await upgradeStatus(server.connect(token))).toBe(401);
      const res = await fetch(`${server.url}/v1/threads`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(401);
    });
  });

  describe('valid tokens through each carrier', () => {
    it('subprotocol: accepted, answered with exactly agentwire.v1, the token never echoed', async () => {
      const client = await server.connect(alice.token);
      expect(client.ws.protocol).toBe('agentwire.v1');
      expect(await ready(client)).toMatchObject({ userId: alice.userId });
      await client.close();

      const raw = await rawUpgrade(server, { 'Sec-WebSocket-Protocol': `agentwire.v1, bearer.${alice.token}` });
      expect(raw.status).toBe(101);
      expect(raw.headers['sec-websocket-protocol']).toBe('agentwire.v1');
      expect(JSON.stringify(raw.headers)).not.toContain(alice.token);
      // Token first, protocol second: still only the protocol is answered.
      const reversed = await rawUpgrade(server, { 'Sec-WebSocket-Protocol': `bearer.${alice.token}, agentwire.v1` });
      expect(reversed.status).toBe(101);
      expect(reversed.headers['sec-websocket-protocol']).toBe('agentwire.v1');
    });

    it('Authorization header: accepted', async () => {
      const client = await server.connect(alice.token, { protocols: ['agentwire.v1'], headers: { authorization: `Bearer ${alice.token}` } });
      expect(client.ws.protocol).toBe('agentwire.v1');
      expect(await ready(client)).toMatchObject({ userId: alice.userId });
      await client.close();
      const bare = await server.connect(alice.token, { protocols: [], headers: { authorization: `Bearer ${alice.token}` } });
      expect(await ready(bare)).toMatchObject({ userId: alice.userId });
      await bare.close();
    });

    // uWS closes an upgraded socket right after `open` when the request said `Connection: close`
    // (no close frame: 1006). Such a request is not a conforming WebSocket upgrade, so the server
    // refuses it with 400 instead of accepting a socket it cannot keep.
    it('an upgrade with "Connection: close" is refused, never accepted and torn down', async () => {
      // A raw socket: Node's HTTP client will not send an upgrade that says `Connection: close`.
      const url = new URL(server.url);
      const statusLine = await new Promise<string>((resolve, reject) => {
        const sock = netConnect(Number(url.port), url.hostname, () =>
          sock.write(
            `GET /v1/ws HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: close\r\n` +
              `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
              `Authorization: Bearer ${alice.token}\r\n\r\n`,
          ),
        );
        let data = '';
        sock.on('data', (d: Buffer) => (data += d.toString('latin1')));
        sock.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
        sock.on('error', reject);
      });
      expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
    });
  });

  describe('tickets', () => {
    it('POST /v1/auth/ws-ticket issues a 30 s ticket that opens one socket, once', async () => {
      const t0 = Date.now();
      const res = await post(server, '/v1/auth/ws-ticket', '', { authorization: `Bearer ${bob.token}` });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { ticket: string; expiresAt: string };
      expect(Object.keys(body).sort()).toEqual(['expiresAt', 'ticket']);
      expect(body.ticket.length).toBeGreaterThan(20);
      const ahead = new Date(body.expiresAt).getTime() - t0;
      expect(ahead).toBeGreaterThan(25_000);
      expect(ahead).toBeLessThan(35_000);

      const client = await server.connect('', { protocols: ['agentwire.v1'], query: `?ticket=${encodeURIComponent(body.ticket)}` });
      expect(client.ws.protocol).toBe('agentwire.v1');
      expect(await ready(client)).toMatchObject({ userId: bob.userId });

      expect(await upgradeStatus(server.connect('', { protocols: ['agentwire.v1'], query: `?ticket=${encodeURIComponent(body.ticket)}` }))).toBe(401);
      await client.close();
      // Still refused after the first socket closed: single use means single use.
      expect(await upgradeStatus(server.connect('', { protocols: [], query: `?ticket=${encodeURIComponent(body.ticket)}` }))).toBe(401);
    });

    it('garbage tickets are 401', async () => {
      for (const t of ['garbage', randomBytes(32).toString('base64url'), 'x'.repeat(1000)]) {
        expect(await upgradeStatus(server.connect('', { protocols: ['agentwire.v1'], query: `?ticket=${t}` }))).toBe(401);
      }
      expect(await upgradeStatus(server.connect('', { protocols: ['agentwire.v1'], query: '?ticket=' }))).toBe(401);
    });

    it('ws-ticket without (or with a bad) bearer is 401', async () => {
      const none = await post(server, '/v1/auth/ws-ticket', '');
      expect(none.status).toBe(401);
      expect(await none.json()).toMatchObject({ error: { code: 'unauthorized', message: expect.any(String) } });
      const bad = await post(server, '/v1/auth/ws-ticket', '', { authorization: 'Bearer garbage' });
      expect(bad.status).toBe(401);
      const expired = await sign({ sub: bob.userId, iss: ISS, aud: AUD, iat: nowS() - 7200, exp: nowS() - 60 });
      expect((await post(server, '/v1/auth/ws-ticket', '', { authorization: `Bearer ${expired}` })).status).toBe(401);
    });
  });

  describe('Origin allow-list', () => {
    it('a disallowed Origin is 403 with no socket', async () => {
      for (const origin of ['https://evil.example', 'http://localhost:1', 'null']) {
        expect(await upgradeStatus(server.connect(alice.token, { headers: { origin } }))).toBe(403);
      }
      const raw = await rawUpgrade(server, { Origin: 'https://evil.example', 'Sec-WebSocket-Protocol': `agentwire.v1, bearer.${alice.token}` });
      expect(raw.status).toBe(403);
      expect(JSON.parse(raw.body)).toMatchObject({ error: { code: 'forbidden' } });
    });

    it('no Origin header is accepted', async () => {
      const client = await server.connect(alice.token);
      expect(await ready(client)).toMatchObject({ userId: alice.userId });
      await client.close();
    });

    // FINDING (see report): the default allow-list is built from `config.port` before listening, so
    // with PORT=0 (an ephemeral port, as in these tests) it holds `http://127.0.0.1:0` and the
    // server's real origin is refused with 403.
    it("the server's own origin (http://127.0.0.1:PORT and http://localhost:PORT) is accepted", async () => {
      const port = new URL(server.url).port;
      for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
        const status = await upgradeStatus(server.connect(alice.token, { headers: { origin } }));
        expect({ origin, status }).toEqual({ origin, status: 101 });
      }
    });
  });

  describe('register and login', () => {
    it('register: 201 {userId}, then 409 for the same username', async () => {
      const username = `reg_${Date.now().toString(36)}`;
      const first = await post(server, '/v1/auth/register', { username, password: 'correct horse battery' });
      expect(first.status).toBe(201);
      const body = (await first.json()) as { userId: string };
      expect(Object.keys(body)).toEqual(['userId']);
      expect(body.userId).toMatch(/^[0-9a-f-]{36}$/);
      const again = await post(server, '/v1/auth/register', { username, password: 'another password here' });
      expect(again.status).toBe(409);
      expect(await again.json()).toMatchObject({ error: { code: 'conflict', message: expect.any(String) } });
    });

    it('login: 200 {token, expiresAt, userId}, never the password', async () => {
      const res = await post(server, '/v1/auth/login', { username: alice.username, password: alice.password });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).not.toContain(alice.password);
      expect(text.toLowerCase()).not.toContain('password');
      expect(text).not.toContain('scrypt');
      const body = JSON.parse(text) as { token: string; expiresAt: string; userId: string };
      expect(Object.keys(body).sort()).toEqual(['expiresAt', 'token', 'userId']);
      expect(body.userId).toBe(alice.userId);
      expect(new Date(body.expiresAt).getTime()).toBeGreaterThan(Date.now());
      // The token carries no password either.
      const payload = Buffer.from(body.token.split('.')[1]!, 'base64url').toString('utf8');
      expect(payload).not.toContain(alice.password);
      expect(JSON.parse(payload)).toMatchObject({ sub: alice.userId, iss: ISS, aud: AUD });
    });

    it('login: wrong password and unknown user are both 401 with identical bodies', async () => {
      const wrong = await post(server, '/v1/auth/login', { username: alice.username, password: 'not the password' });
      const unknown = await post(server, '/v1/auth/login', { username: `nobody_${Date.now().toString(36)}`, password: 'not the password' });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      const [a, b] = [await wrong.text(), await unknown.text()];
      expect(a).toBe(b);
      expect(JSON.parse(a)).toMatchObject({ error: { code: 'unauthorized', message: expect.any(String) } });
    });

    it('login: a password or username that breaks the registration policy is 401, like a wrong password', async () => {
      const wrong = await post(server, '/v1/auth/login', { username: alice.username, password: 'not the password' });
      expect(wrong.status).toBe(401);
      const expected = await wrong.text();
      const credentials = [
        { username: alice.username, password: 'short' }, // 5 characters: under the registration minimum
        { username: alice.username, password: '' },
        { username: alice.username, password: 'p'.repeat(2_000) }, // over the registration maximum
        { username: 'ab', password: 'correct horse battery' },
        { username: '', password: 'correct horse battery' },
        { username: 'has space', password: 'correct horse battery' },
        { username: 'u'.repeat(500), password: 'correct horse battery' },
        { username: 'nul\u0000name', password: 'correct horse battery' },
        { username: 'lone\ud800', password: 'correct horse battery' },
      ];
      for (const body of credentials) {
        const res = await post(server, '/v1/auth/login', body);
        expect({ body, status: res.status, text: await res.text() }).toEqual({ body, status: 401, text: expected });
      }
    });

    it('registration applies the policy: 400 bad_request for a username or password outside it', async () => {
      for (const body of [
        { username: 'ab', password: 'correct horse battery' },
        { username: 'has space', password: 'correct horse battery' },
        { username: 'fine_name', password: 'short' },
        { username: 'fine_name', password: 'p'.repeat(257) },
      ]) {
        const res = await post(server, '/v1/auth/register', body);
        const json = (await res.json()) as { error?: { code?: string } };
        expect({ body, status: res.status, code: json.error?.code }).toEqual({ body, status: 400, code: 'bad_request' });
      }
    });

    it('a password change checks the current password like a login (403 for any mismatch) and the new one against the policy (400)', async () => {
      const change = (body: unknown) => post(server, '/v1/auth/password', body, { authorization: `Bearer ${alice.token}` });
      for (const currentPassword of ['short', '', 'p'.repeat(2_000)]) {
        const res = await change({ currentPassword, newPassword: 'another good password' });
        expect({ currentPassword, status: res.status }).toEqual({ currentPassword, status: 403 });
      }
      expect((await change({ currentPassword: alice.password, newPassword: 'short' })).status).toBe(400);
    });

    it('invalid bodies are 400 bad_request', async () => {
      const bodies: unknown[] = [
        'not json',
        '',
        '[]',
        'null',
        '42',
        {},
        { username: 'someone' },
        { password: 'correct horse battery' },
        { username: 42, password: 'correct horse battery' },
        { username: 'fine_name', password: null },
        { username: 'fine_name', password: 'correct horse battery', admin: true },
      ];
      for (const path of ['/v1/auth/register', '/v1/auth/login']) {
        for (const body of bodies) {
          const res = await post(server, path, body);
          const json = (await res.json()) as { error?: { code?: string; message?: string } };
          expect({ path, body, status: res.status, code: json.error?.code }).toEqual({ path, body, status: 400, code: 'bad_request' });
          expect(typeof json.error?.message).toBe('string');
        }
      }
    });

    it('an auth body over 16 KiB is 413 payload_too_large', async () => {
      const res = await post(server, '/v1/auth/register', { username: 'big_body', password: 'x'.repeat(20_000) });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    });

    it('registration switched off by config is 403 (login still works)', async () => {
      const closed = await startServer(primaryBackend, { env: { ALLOW_REGISTRATION: 'false' } });
      try {
        const res = await post(closed, '/v1/auth/register', { username: 'someone_new', password: 'correct horse battery' });
        expect(res.status).toBe(403);
        expect(await res.json()).toMatchObject({ error: { code: 'forbidden', message: expect.any(String) } });
        const login = await post(closed, '/v1/auth/login', { username: 'someone_new', password: 'correct horse battery' });
        expect(login.status).toBe(401);
      } finally {
        await closed.stop();
      }
    });
  });

  it('a token expiring while its socket is open closes the socket with 4401', async () => {
    const exp = nowS() + 2;
    const token = await sign({ sub: alice.userId, iss: ISS, aud: AUD, exp });
    const client = await server.connect(token);
    await ready(client);
    const code = await client.closed;
    expect(code).toBe(4401);
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50);
  });
});
