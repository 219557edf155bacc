// Who may open the visualizer: the holder of DEBUG_TOKEN, or a signed-in user whose username is
// in ADMIN_USERS. The credential comes as `Authorization: Bearer …` or as the `aw_debug` cookie
// that `POST /debug/session` sets (a browser cannot put a header on a page load or a WebSocket).
import { timingSafeEqual, createHash } from 'node:crypto';

export const COOKIE = 'aw_debug';

export type Access = { ok: true; who: string } | { ok: false; status: 401 | 403 };

export interface AccessDeps {
  token: string | undefined;
  adminUsers: readonly string[];
  /** The user a JWT names, when it is valid. */
  authenticate(jwt: string): Promise<{ userId: string } | undefined>;
  usernameOf(userId: string): Promise<string | undefined>;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export class DebugAccess {
  constructor(private readonly d: AccessDeps) {}

  isDebugToken(credential: string): boolean {
    // Compared as digests: equal lengths, constant time.
    return this.d.token !== undefined && timingSafeEqual(digest(credential), digest(this.d.token));
  }

  /** 401: no or bad credential; 403: a valid user who is not an admin. */
  async check(credential: string | undefined): Promise<Access> {
    if (!credential) return { ok: false, status: 401 };
    if (this.isDebugToken(credential)) return { ok: true, who: 'debug-token' };
    // A credential that names no one is 401; a failing database is not a bad credential, and
    // propagates (503, logged with its cause).
    const user = await this.d.authenticate(credential);
    if (!user) return { ok: false, status: 401 };
    const name = await this.d.usernameOf(user.userId);
    if (name === undefined || !this.d.adminUsers.includes(name)) return { ok: false, status: 403 };
    return { ok: true, who: name };
  }
}

/** The credential of a request: the bearer header first, then the cookie. */
export function credentialOf(authorization: string, cookieHeader: string): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (m?.[1]) return m[1];
  for (const part of cookieHeader.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE && v.length > 0) return decodeURIComponent(v.join('='));
  }
  return undefined;
}
