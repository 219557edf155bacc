// Who may reach the statechart visualizer: nobody while it is off (404, as for any unknown path);
// when on, the debug token or an admin user (ADMIN_USERS); others get 401 (no or bad credential)
// or 403 (a valid user who is not an admin, or a socket from a foreign page). The page itself
// sends a stranger to its sign-in page (303 to /debug/login, which answers 200).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machines } from '../../machines/index.js';
import { machineGraph } from '../../src/debug/graph.js';
import { primaryBackend } from '../helpers/backends.js';
import { TestClient, UpgradeRefused } from '../helpers/client.js';
import { rawUpgrade } from '../helpers/raw-upgrade.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';

const TOKEN = 'debug-token-for-the-access-test-0123456789';
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (e: unknown) => (e instanceof UpgradeRefused ? e.status : -1),
  );

describe(`visualizer access on ${primaryBackend}`, () => {
  let off: TestServer;
  let on: TestServer;
  let admin: TestUser;
  let user: TestUser;
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${on.url}${path}`, { headers });
  const socket = (headers: Record<string, string>) => TestClient.open(`${on.wsUrl.replace('/v1/ws', '/debug/ws')}`, { headers });

  beforeAll(async () => {
    [off, on] = await Promise.all([
      startServer(primaryBackend),
      // A short body timeout: a body the server failed to read is a 408 in seconds, not a hang.
      startServer(primaryBackend, { env: { DEBUG_ENABLED: 'true', DEBUG_TOKEN: TOKEN, ADMIN_USERS: 'boss_admin, other', HTTP_BODY_TIMEOUT_MS: '3000' } }),
    ]);
    admin = await on.register('boss_admin');
    user = await on.register('plain_user');
  });
  afterAll(async () => {
    await Promise.all([off?.stop(), on?.stop()]);
  });

  it('is absent while DEBUG_ENABLED is off', async () => {
    for (const path of ['/debug', '/debug/login', '/debug/app.js', '/debug/api/machines']) {
      expect((await fetch(`${off.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, path).toBe(404);
    }
    expect(await refusal(TestClient.open(off.wsUrl.replace('/v1/ws', '/debug/ws')))).toBe(404);
  });

  it('sends a stranger to the sign-in page, refuses its API a missing or bad credential with 401 and a non-admin with 403', async () => {
    // The page itself is no error to a browser: a redirect to the sign-in page, which is 200.
    const page = await fetch(`${on.url}/debug`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/debug/login');
    const signIn = await get('/debug/login');
    expect(signIn.status).toBe(200);
    expect(await signIn.text()).toContain('Debug token');
    expect(signIn.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect((await fetch(`${on.url}/debug`, { redirect: 'manual', headers: { cookie: 'aw_debug=not-a-token' } })).status).toBe(303);
    expect((await get('/debug/app.js')).status).toBe(401);
    expect((await get('/debug/api/machines')).status).toBe(401);
    expect((await get('/debug/api/machines', { authorization: 'Bearer not-a-token' })).status).toBe(401);
    const forbidden = await get('/debug/api/machines', { authorization: `Bearer ${user.token}` });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({ error: { code: 'forbidden', message: 'an admin role is required' } });
    expect((await get('/debug', { cookie: `aw_debug=${user.token}` })).status).toBe(403);
    // The sign-in page's own script and the styles hold no data.
    expect((await get('/debug/login.js')).status).toBe(200);
  });

  it('serves the page, the machines and replays to the debug token and to an admin', async () => {
    for (const credential of [TOKEN, admin.token]) {
      expect((await get('/debug', { authorization: `Bearer ${credential}` })).status).toBe(200);
      // Already signed in: the sign-in page sends back to the page.
      const again = await fetch(`${on.url}/debug/login`, { redirect: 'manual', headers: { cookie: `aw_debug=${credential}` } });
      expect([again.status, again.headers.get('location')]).toEqual([303, '/debug']);
      const m = await get('/debug/api/machines', { cookie: `theme=dark; aw_debug=${credential}` });
      expect(m.status).toBe(200);
      const body = (await m.json()) as { machines: Array<{ name: string; graph: unknown }> };
      expect(body.machines).toEqual(Object.entries(machines).map(([name, machine]) => ({ name, graph: machineGraph(machine) })));
    }
    expect((await get('/debug/api/runs/not-a-run', { authorization: `Bearer ${TOKEN}` })).status).toBe(404);
    expect((await get('/debug/api/runs?limit=5', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  it('sets the cookie only for an admin login or the token', async () => {
    const post = (body: unknown) => fetch(`${on.url}/debug/session`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post({ username: 'plain_user', password: user.password })).status).toBe(403);
    expect((await post({ username: 'boss_admin', password: 'wrong password' })).status).toBe(401);
    expect((await post({ token: 'x'.repeat(40) })).status).toBe(401);
    expect((await post({ token: TOKEN, extra: 1 })).status).toBe(400);
    const ok = await post({ username: 'boss_admin', password: admin.password });
    expect(ok.status).toBe(200);
    const cookie = ok.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^aw_debug=[^;]+; Path=\/debug; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect((await get('/debug/api/machines', { cookie: cookie.split(';')[0]! })).status).toBe(200);
  });

  // The access check reads the database for a JWT; the body must be taken before that await.
  it('reads the sign-in body of a request that also carries a JWT (header or cookie)', async () => {
    const post = (body: unknown, headers: Record<string, string>) => fetch(`${on.url}/debug/session`, { method: 'POST', headers, body: JSON.stringify(body) });
    const withHeader = await post({ username: 'boss_admin', password: admin.password }, { authorization: `Bearer ${user.token}` });
    expect(withHeader.status).toBe(200);
    expect(await withHeader.json()).toEqual({ who: 'boss_admin' });
    const withCookie = await post({ token: TOKEN }, { cookie: `aw_debug=${admin.token}` });
    expect(withCookie.status).toBe(200);
    expect(await withCookie.json()).toEqual({ who: 'debug-token' });
  });

  it('refuses a feed socket with the same answer as every refused upgrade: JSON error, security headers, CSP', async () => {
    const api = await rawUpgrade(on, {});
    expect(api.status).toBe(401);
    const cases: Array<[Record<string, string>, number, string]> = [
      [{}, 401, 'unauthorized'],
      [{ cookie: `aw_debug=${user.token}` }, 403, 'forbidden'],
      [{ authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' }, 403, 'forbidden'],
    ];
    for (const [headers, status, code] of cases) {
      const raw = await rawUpgrade(on, headers, '', '/debug/ws');
      expect(raw.status).toBe(status);
      expect(JSON.parse(raw.body)).toMatchObject({ error: { code } });
      expect(raw.headers['content-type']).toBe('application/json');
      for (const h of ['content-security-policy', 'x-content-type-options', 'cache-control', 'referrer-policy', 'x-frame-options', 'cross-origin-resource-policy']) {
        expect(raw.headers[h], h).toBe(api.headers[h]);
      }
      expect(raw.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    }
  });

  it('opens the feed socket only for the token or an admin, and only from this server\'s pages', async () => {
    expect(await refusal(socket({}))).toBe(401);
    expect(await refusal(socket({ cookie: `aw_debug=${user.token}` }))).toBe(403);
    expect(await refusal(socket({ authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' }))).toBe(403);
    const feed = await socket({ cookie: `aw_debug=${admin.token}`, origin: on.url });
    try {
      const first = await feed.waitType('live');
      expect(first).toMatchObject({ type: 'live', totals: { run: { active: 0 } } });
      feed.send('{"type":"nonsense"}');
      expect(await feed.waitType('error')).toMatchObject({ code: 'bad_request' });
    } finally {
      await feed.close();
    }
  });
});
