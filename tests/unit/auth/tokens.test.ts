import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../../src/auth/passwords.js';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, TokenService } from '../../../src/auth/tokens.js';

const SECRET = 'unit-test-secret-unit-test-secret-0123';
const key = new TextEncoder().encode(SECRET);
const sign = (claims: { sub?: string; iss?: string; aud?: string; exp?: number; nbf?: number }, k = key) => {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now);
  if (claims.sub) jwt.setSubject(claims.sub);
  jwt.setIssuer(claims.iss ?? TOKEN_ISSUER).setAudience(claims.aud ?? TOKEN_AUDIENCE).setExpirationTime(claims.exp ?? now + 60);
  if (claims.nbf) jwt.setNotBefore(claims.nbf);
  return jwt.sign(k);
};

describe('tokens', () => {
  const tokens = new TokenService(SECRET, 3600);

  it('issues tokens it verifies, with the subject and expiry', async () => {
    const { token, expiresAt } = await tokens.issue('user-1');
    const claims = await tokens.verify(token);
    expect(claims?.userId).toBe('user-1');
    expect(claims?.expiresAt.getTime()).toBe(expiresAt.getTime());
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(3500_000);
  });

  it('refuses every forged or unfit token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const valid = await sign({ sub: 'u' });
    const [h, p, s] = valid.split('.') as [string, string, string];
    const tamperedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'admin' })).toString('base64url');
    const forged = [
      '',
      'garbage',
      new UnsecuredJWT({ sub: 'u' }).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setExpirationTime(now + 60).encode(),
      await sign({ sub: 'u' }, new TextEncoder().encode('another-secret-another-secret-0000')),
      `${h}.${tamperedPayload}.${s}`,
      await sign({ sub: 'u', exp: now - 10 }),
      await sign({ sub: 'u', nbf: now + 3600 }),
      await sign({ sub: 'u', iss: 'someone-else' }),
      await sign({ sub: 'u', aud: 'someone-else' }),
      await sign({}),
      'x'.repeat(5000),
    ];
    for (const t of forged) expect(await tokens.verify(t)).toBeUndefined();
    expect(await tokens.verify(valid)).toBeDefined();
  });
});

describe('passwords', () => {
  it('verifies the right password only', async () => {
    const hash = await hashPassword('correct horse battery');
    expect(hash.startsWith('scrypt$')).toBe(true);
    expect(hash).not.toContain('correct horse');
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterY', hash)).toBe(false);
    expect(await verifyPassword('x', 'not-a-hash')).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
  });
});
