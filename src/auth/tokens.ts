// HS256 access tokens issued and verified with jose. Verification pins the algorithm, issuer and
// audience: `alg: none`, another algorithm, a bad signature, a wrong issuer or audience and an
// expired token are all refused.
import { SignJWT, jwtVerify } from 'jose';

export const TOKEN_ISSUER = 'agentwire';
export const TOKEN_AUDIENCE = 'agentwire';

export interface TokenClaims {
  userId: string;
  expiresAt: Date;
}

export class TokenService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(userId: string, now = new Date()): Promise<{ token: string; expiresAt: Date }> {
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + this.ttlSeconds;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** The claims of a valid token, or `undefined` for anything else (never throws). */
  async verify(token: string): Promise<TokenClaims | undefined> {
    if (token.length === 0 || token.length > 4096) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'exp'],
      });
      if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number') return undefined;
      return { userId: payload.sub, expiresAt: new Date(payload.exp * 1000) };
    } catch {
      return undefined;
    }
  }
}
