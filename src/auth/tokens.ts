// Access tokens. The server's own are HS256, issued and verified with jose; verification pins the
// algorithm, issuer and audience: `alg: none`, another algorithm, a bad signature, a wrong issuer
// or audience and an expired token are all refused. Each carries `ver`, the user's token version
// when it was issued: logout and password change move the version and so revoke it.
import { SignJWT, jwtVerify } from 'jose';

export const TOKEN_ISSUER = 'agentwire';
export const TOKEN_AUDIENCE = 'agentwire';
/** Longest token accepted at all: anything longer is refused before it is parsed. */
export const MAX_TOKEN_LENGTH = 8192;

export interface TokenClaims {
  userId: string;
  expiresAt: Date;
  /** The user's token version the token was issued under (own tokens). */
  version?: number;
  /** Epoch ms of `iat` (tokens of an external identity provider). */
  issuedAt?: number;
}

export interface TokenVerifier {
  verify(token: string): Promise<TokenClaims | undefined>;
}

export class TokenService implements TokenVerifier {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(userId: string, version = 0, now = new Date()): Promise<{ token: string; expiresAt: Date }> {
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + this.ttlSeconds;
    const token = await new SignJWT({ ver: version })
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
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'exp'],
      });
      if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number') return undefined;
      // Tokens issued before versions existed count as version 0.
      const ver = payload.ver === undefined ? 0 : payload.ver;
      if (typeof ver !== 'number' || !Number.isInteger(ver)) return undefined;
      return { userId: payload.sub, expiresAt: new Date(payload.exp * 1000), version: ver };
    } catch {
      return undefined;
    }
  }
}
