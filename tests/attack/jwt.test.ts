// JWT attacks against the external identity provider path (PROTOCOL section 1: issuer, audience,
// JWKS): every forged token is 401 on HTTP and at the upgrade, with no socket; the JWKS is cached,
// refetched for a rotated key, and not hammered by made-up `kid`s. Then revocation: logout and
// password change refuse earlier tokens and tickets, and close the sockets opened with them (4401),
// on this process at once and on others through the revocation sweep.
// The server's own HS256 tokens have their attack set in tests/e2e/auth.test.ts (alg none, HS512,
// wrong key, tampered payload, expired, nbf, issuer, audience, missing claims, unknown user).
import { createPublicKey, randomUUID } from 'node:crypto';
import { exportSPKI, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExternalTokenVerifier } from '../../src/auth/external.js';
import { primaryBackend } from '../helpers/backends.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import { FakeIdp, newKey, type IdpKey } from './idp.js';
import { httpStatus, rawUpgrade, ready, upgradeStatus } from './support.js';

const nowS = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe(`JWT attacks on ${primaryBackend}`, () => {
  const idp = new FakeIdp();
  let server: TestServer;
  let k1: IdpKey;
  let es: IdpKey;
  let attacker: IdpKey;
  /** The key the provider signs with now (the rotation test replaces k1). */
  let current: IdpKey;

  beforeAll(async () => {
    [k1, es, attacker] = await Promise.all([newKey('RS256', 'k1'), newKey('ES256', 'es1'), newKey('RS256', 'k1')]);
    idp.keys = [k1, es];
    current = k1;
    await idp.start();
    server = await startServer(primaryBackend, {
      env: idp.env({ AUTH_ALGORITHMS: 'RS256', AUTH_JWKS_COOLDOWN_MS: '2000', REVOCATION_CHECK_MS: '200', UPGRADE_TIMEOUT_MS: '1500', AUTH_JWKS_TIMEOUT_MS: '10000' }),
    });
  });
  afterAll(async () => {
    await server?.stop();
    await idp.stop();
  });

  /** 401 on HTTP, 401 at the upgrade (subprotocol and header), and no socket. */
  async function refusedEverywhere(token: string): Promise<void> {
    expect(await httpStatus(server, token)).toBe(401);
    expect(await upgradeStatus(server.connect(token))).toBe(401);
    const raw = await rawUpgrade(server, { Authorization: `Bearer ${token}` });
    expect(raw.status).toBe(401);
    expect(JSON.parse(raw.body)).toMatchObject({ error: { code: 'unauthorized' } });
  }

  it('a valid token of the provider opens a socket; the same subject is the same local user, another subject another', async () => {
    const t1 = await idp.token(k1, { sub: 'subject-a' });
    expect(await httpStatus(server, t1)).toBe(200);
    const c = await server.connect(t1);
    const sr = await ready(c);
    const again = await server.connect(await idp.token(k1, { sub: 'subject-a', iat: nowS() - 5 }));
    expect((await ready(again)).userId).toBe(sr.userId);
    const other = await server.connect(await idp.token(k1, { sub: 'subject-b' }));
    expect((await ready(other)).userId).not.toBe(sr.userId);
    for (const x of [c, again, other]) await x.close();
  });

  const forged: Array<[string, () => Promise<string>]> = [
    ['alg none with the provider as issuer', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'subject-a', iss: idp.issuer, aud: idp.audience, iat: nowS(), exp: nowS() + 600 })}.`],
    [
      'HS256 signed with the RS public key (SPKI PEM) as the HMAC secret',
      async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
          .setSubject('subject-a')
          .setIssuer(idp.issuer)
          .setAudience(idp.audience)
          .setIssuedAt()
          .setExpirationTime(nowS() + 600)
          .sign(new TextEncoder().encode(await exportSPKI(createPublicKey({ key: k1.publicJwk as never, format: 'jwk' }) as never))),
    ],
    [
      'HS256 signed with the JWK JSON of the public key as the secret',
      async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
          .setSubject('subject-a')
          .setIssuer(idp.issuer)
          .setAudience(idp.audience)
          .setIssuedAt()
          .setExpirationTime(nowS() + 600)
          .sign(new TextEncoder().encode(JSON.stringify(k1.publicJwk))),
    ],
    ['signed by an attacker key that claims the real kid', async () => idp.token(attacker)],
    ['kid path traversal', async () => idp.token({ ...attacker, kid: '../../../../etc/passwd' })],
    ['kid SQL injection', async () => idp.token({ ...attacker, kid: "k1' OR '1'='1" })],
    ['kid empty string', async () => idp.token({ ...attacker, kid: '' })],
    ['jku header pointing at the attacker', async () => idp.token(attacker, { header: { jku: 'http://127.0.0.1:1/jwks.json' } })],
    ['embedded jwk header with the attacker key', async () => idp.token(attacker, { header: { jwk: attacker.publicJwk } })],
    ['ES256 by a key the JWKS publishes, but ES256 is not in AUTH_ALGORITHMS', async () => idp.token(es)],
    ['expired', async () => idp.token(k1, { iat: nowS() - 7200, exp: nowS() - 60 })],
    ['not yet valid (nbf in the future)', async () => idp.token(k1, { nbf: nowS() + 600 })],
    ['issued in the future (would outlive a logout)', async () => idp.token(k1, { iat: nowS() + 3600, exp: nowS() + 7200 })],
    ['wrong audience', async () => idp.token(k1, { aud: 'someone-else' })],
    ['wrong issuer, right key', async () => idp.token(k1, { iss: 'https://evil.test' })],
    ["the server's own issuer, signed RS256 by the provider's key", async () => idp.token(k1, { iss: 'agentwire', aud: 'agentwire' })],
  ];
  it.each(forged)('%s: 401 on HTTP and at the upgrade, no socket', async (_name, make) => {
    await refusedEverywhere(await make());
  });

  it('made-up kids do not make the server hammer the JWKS (cooldown), and a rotated key is picked up', async () => {
    // A fetch for the first unknown kid, then the cooldown: a burst of 20 costs at most one more.
    const before = idp.fetches;
    const unknown = await Promise.all(Array.from({ length: 20 }, () => idp.token({ ...attacker, kid: `made-up-${randomUUID()}` })));
    const statuses = await Promise.all(unknown.map((t) => httpStatus(server, t)));
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect(idp.fetches - before).toBeLessThanOrEqual(1);

    // The provider rotates: k2 replaces k1. A token with the new kid is accepted once the
    // cooldown allows a refetch; afterwards k1 is no longer trusted.
    const k2 = await newKey('RS256', 'k2');
    idp.keys = [k2, es];
    await until(async () => (await httpStatus(server, await idp.token(k2, { sub: 'subject-a' }))) === 200, 'the rotated key to be accepted');
    await refusedEverywhere(await idp.token(k1, { sub: 'subject-a' }));
    current = k2;
  });

  it('a provider that hangs: the upgrade is answered 503 after UPGRADE_TIMEOUT_MS instead of hanging with it', async () => {
    idp.hang = true;
    try {
      // Within the JWKS cooldown a made-up kid is refused at once (401); once a refetch is allowed
      // it hangs, and the upgrade gives up on it.
      await until(
        async () => (await rawUpgrade(server, { Authorization: `Bearer ${await idp.token({ ...attacker, kid: `hang-${randomUUID()}` })}` })).status === 503,
        'an upgrade that waits on the hanging provider to be refused with 503',
      );
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      idp.hang = false;
    }
  });

  it('a provider that cannot be reached: its tokens are refused (never thrown), the verifier answers at once', async () => {
    const down = new ExternalTokenVerifier({
      issuer: idp.issuer,
      audience: idp.audience,
      jwksUrl: 'http://127.0.0.1:9/jwks.json',
      algorithms: ['RS256'],
      cacheMs: 60_000,
      cooldownMs: 0,
      timeoutMs: 500,
    });
    const token = await idp.token(k1);
    expect(down.claims(token)).toBe(true);
    expect(await down.verify(token)).toBeUndefined();
  });

  describe('revocation', () => {
    async function login(u: TestUser, password = u.password): Promise<Response> {
      return fetch(`${server.url}/v1/auth/login`, { method: 'POST', body: JSON.stringify({ username: u.username, password }) });
    }

    it('logout: earlier tokens and tickets are refused, its open sockets close with 4401, a new login works', async () => {
      const u = await server.register();
      const second = (await (await login(u)).json()) as { token: string };
      const ticket = (await (await fetch(`${server.url}/v1/auth/ws-ticket`, { method: 'POST', headers: { authorization: `Bearer ${u.token}` } })).json()) as { ticket: string };
      const s1 = await server.connect(u.token);
      const s2 = await server.connect(second.token);
      await Promise.all([ready(s1), ready(s2)]);

      const out = await fetch(`${server.url}/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${u.token}` } });
      expect(out.status).toBe(200);
      expect(await s1.closed).toBe(4401);
      expect(await s2.closed).toBe(4401);
      await refusedEverywhere(u.token);
      await refusedEverywhere(second.token);
      expect(await upgradeStatus(server.connect('', { protocols: ['agentwire.v1'], query: `?ticket=${ticket.ticket}` }))).toBe(401);
      // Logging out twice with the revoked token is refused like any bad token.
      expect((await fetch(`${server.url}/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${u.token}` } })).status).toBe(401);

      const fresh = (await (await login(u)).json()) as { token: string };
      expect(await httpStatus(server, fresh.token)).toBe(200);
      const s3 = await server.connect(fresh.token);
      await ready(s3);
      await s3.close();
    });

    it('password change: the old password and earlier tokens stop working, open sockets close with 4401; the answer carries a new token', async () => {
      const u = await server.register();
      const s = await server.connect(u.token);
      await ready(s);
      const post = (body: unknown, token = u.token) =>
        fetch(`${server.url}/v1/auth/password`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

      const wrong = await post({ currentPassword: 'not it at all', newPassword: 'another good password' });
      expect(wrong.status).toBe(403);
      expect(await httpStatus(server, u.token)).toBe(200);
      expect((await post({ currentPassword: u.password, newPassword: 'short' })).status).toBe(400);
      expect((await post({ currentPassword: u.password, newPassword: 'another good password', extra: 1 })).status).toBe(400);

      const ok = await post({ currentPassword: u.password, newPassword: 'another good password' });
      expect(ok.status).toBe(200);
      const { token } = (await ok.json()) as { token: string };
      expect(await s.closed).toBe(4401);
      await refusedEverywhere(u.token);
      expect(await httpStatus(server, token)).toBe(200);
      expect((await login(u)).status).toBe(401);
      expect((await login(u, 'another good password')).status).toBe(200);
    });

    it('a revocation made by another process closes the sockets here too (the revocation sweep)', async () => {
      const u = await server.register();
      const s = await server.connect(u.token);
      await ready(s);
      // What another process's logout writes to the shared database.
      await server.runtime.database.query('UPDATE users SET token_version = token_version + 1, tokens_valid_after = now() WHERE id = $1', [u.userId]);
      expect(await s.closed).toBe(4401);
      expect(await httpStatus(server, u.token)).toBe(401);
    });

    it("logout with a provider's token refuses that provider's earlier tokens; later ones work", async () => {
      const sub = `subject-${randomUUID()}`;
      const before = await idp.token(current, { sub, iat: nowS() - 10 });
      const s = await server.connect(before);
      await ready(s);
      expect((await fetch(`${server.url}/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${before}` } })).status).toBe(200);
      expect(await s.closed).toBe(4401);
      await refusedEverywhere(before);
      // Tokens carry whole seconds: one issued in the second of the logout is refused too.
      await until(async () => (await httpStatus(server, await idp.token(current, { sub }))) === 200, 'a token issued after the logout to be accepted');
    });
  });
});
