// A fake external identity provider at the edge of the world: a local node:http server serving a
// JWKS of keys generated in the test, which the test can rotate, and a count of JWKS fetches.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface IdpKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function newKey(alg: 'RS256' | 'ES256' = 'RS256', kid = `k-${randomUUID().slice(0, 8)}`): Promise<IdpKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

export class FakeIdp {
  readonly issuer = 'https://idp.test';
  readonly audience = 'agentwire-api';
  /** Keys the JWKS currently publishes. */
  keys: IdpKey[] = [];
  fetches = 0;
  /** While true the JWKS endpoint never answers (a provider that hangs). */
  hang = false;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      this.fetches++;
      if (this.hang) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: this.keys.map((k) => k.publicJwk) }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    this.url = `http://127.0.0.1:${addr.port}/.well-known/jwks.json`;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return { AUTH_ISSUER: this.issuer, AUTH_AUDIENCE: this.audience, AUTH_JWKS_URL: this.url, ...extra };
  }

  /** A token signed by `key`, with claims and header fields the test may override. */
  async token(
    key: IdpKey,
    o: { sub?: string; iss?: string; aud?: string; exp?: number; nbf?: number; iat?: number; header?: Record<string, unknown> } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    let jwt = new SignJWT({})
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...o.header })
      .setSubject(o.sub ?? 'idp-user-1')
      .setIssuer(o.iss ?? this.issuer)
      .setAudience(o.aud ?? this.audience)
      .setIssuedAt(o.iat ?? now)
      .setExpirationTime(o.exp ?? now + 3600);
    if (o.nbf !== undefined) jwt = jwt.setNotBefore(o.nbf);
    return jwt.sign(key.privateKey);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
