// Tokens of an external identity provider (OIDC-style): verified against the provider's JWKS,
// fetched with jose's remote key set, which caches the keys (AUTH_JWKS_CACHE_MS), refetches when a
// token names an unknown `kid` (so key rotation works without a restart) but not more often than
// AUTH_JWKS_COOLDOWN_MS (so made-up `kid`s cannot make us hammer the provider). The algorithms are
// fixed by config and asymmetric only: a token signed with HS256 using the provider's public key
// as the secret is refused before any key is looked at.
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { MAX_TOKEN_LENGTH } from './tokens.js';

export interface ExternalIdpOptions {
  issuer: string;
  audience: string;
  jwksUrl: string;
  algorithms: readonly string[];
  cacheMs: number;
  cooldownMs: number;
  timeoutMs: number;
}

/** Claims of a verified external token; `subject` is the provider's user id (any string). */
export interface ExternalClaims {
  subject: string;
  expiresAt: Date;
  issuedAt: number;
}

export class ExternalTokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(readonly o: ExternalIdpOptions) {
    this.jwks = createRemoteJWKSet(new URL(o.jwksUrl), {
      cacheMaxAge: o.cacheMs,
      cooldownDuration: o.cooldownMs,
      timeoutDuration: o.timeoutMs,
    });
  }

  /** Whether the token claims to come from this provider (unverified: only to route it). */
  claims(token: string): boolean {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return false;
    try {
      return decodeJwt(token).iss === this.o.issuer;
    } catch {
      return false;
    }
  }

  /** Never throws: a token that cannot be verified (including a provider that cannot be reached) is undefined. */
  async verify(token: string): Promise<ExternalClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.jwks, {
        algorithms: [...this.o.algorithms],
        issuer: this.o.issuer,
        audience: this.o.audience,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 255) return undefined;
      if (typeof payload.exp !== 'number' || typeof payload.iat !== 'number') return undefined;
      // `iat` decides revocation (tokens issued before a logout are refused): one from the future
      // would outlive a logout, so it is refused (a minute of clock skew is allowed).
      if (payload.iat * 1000 > Date.now() + 60_000) return undefined;
      return { subject: payload.sub, expiresAt: new Date(payload.exp * 1000), issuedAt: payload.iat * 1000 };
    } catch {
      return undefined;
    }
  }
}
