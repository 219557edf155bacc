// Users, logins and socket tickets (PROTOCOL sections 1 and 2).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../protocol/errors.js';
import { unstorableReason } from '../protocol/text.js';
import type { Db, Queryable } from '../store/db.js';
import { RateLimiter } from '../limits/rate-limit.js';
import { consumeTicket, externalUser, findUserById, findUserByName, insertTicket, insertUser, purgeExpiredTickets, revokeTokens, tokenState } from '../store/users.js';
import type { ExternalTokenVerifier } from './external.js';
import { dummyHash, hashPassword, verifyPassword } from './passwords.js';
import type { TokenService } from './tokens.js';

/** The policy for new usernames and passwords: registration and password change only. */
const newPassword = z.string().min(8).max(256);
export const registrationSchema = z.strictObject({
  username: z
    .string()
    .min(3)
    .max(64)
    .regex(/^[A-Za-z0-9_.@-]+$/, 'letters, digits and _ . @ - only'),
  password: newPassword,
});

/**
 * A login: any two strings (the request body's size bounds them). A credential that breaks today's
 * policy simply matches no account, so it is a mismatch (401, PROTOCOL section 1) like a wrong
 * password, and a policy raised later locks no existing user out.
 */
export const credentialsSchema = z.strictObject({ username: z.string(), password: z.string() });
export type Credentials = z.infer<typeof credentialsSchema>;

export const passwordChangeSchema = z.strictObject({
  // Checked like a login's password: a wrong one of any length is a mismatch (403).
  currentPassword: z.string(),
  newPassword,
});
export type PasswordChange = z.infer<typeof passwordChangeSchema>;

/** Who a valid credential names, and the token version it was checked against (sockets keep it to notice revocation). */
export interface Authenticated {
  userId: string;
  expiresAt: Date;
  tokenVersion: number;
}

export const TICKET_TTL_MS = 30_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
/** The failed-login bucket of an account name: fixed size, however long the name a login sends. */
const accountKey = (username: string) => sha256(username.toLowerCase());

export interface AuthServiceOptions {
  db: Db;
  tokens: TokenService;
  allowRegistration: boolean;
  /** Runs in the registering transaction (e.g. the analyst's sample usage set). */
  onUserCreated?: (tx: Queryable, user: { id: string; username: string }) => Promise<void>;
  /** Tokens of an external identity provider, accepted besides the server's own. */
  external?: ExternalTokenVerifier;
  /** Failed logins allowed per account and per client address within `windowMs`. */
  loginLimits?: { perAccount: number; perAddress: number; windowMs: number; registrationsPerAddress?: number };
}

export class AuthService {
  private readonly perAccount: RateLimiter;
  private readonly perAddress: RateLimiter;
  private readonly registrations: RateLimiter;

  constructor(private readonly o: AuthServiceOptions) {
    const l = o.loginLimits ?? { perAccount: 10, perAddress: 100, windowMs: 900_000 };
    this.perAccount = new RateLimiter(l.perAccount, l.windowMs);
    this.perAddress = new RateLimiter(l.perAddress, l.windowMs);
    this.registrations = new RateLimiter(l.registrationsPerAddress ?? 30, 3_600_000);
  }

  async register(c: Credentials, address = ''): Promise<{ userId: string }> {
    if (!this.o.allowRegistration) throw new AppError('forbidden', 'registration is switched off on this server');
    const wait = this.registrations.take(address);
    if (wait > 0) throw new AppError('rate_limited', 'too many registrations from this address', { retryAfterMs: wait });
    const id = randomUUID();
    const passwordHash = await hashPassword(c.password);
    const created = await this.o.db.transaction(async (tx) => {
      if (!(await insertUser(tx, { id, username: c.username, passwordHash }))) return false;
      await this.o.onUserCreated?.(tx, { id, username: c.username });
      return true;
    });
    if (!created) throw new AppError('conflict', 'that username is taken');
    return { userId: id };
  }

  /**
   * The same refusal for an unknown user and a wrong password, at the same cost. Each attempt takes
   * a token from the account's and the address's bucket before the password is checked (so a burst
   * of parallel guesses is limited too); a successful login gives them back: only failures count.
   */
  async login(c: Credentials, address = ''): Promise<{ token: string; expiresAt: Date; userId: string }> {
    const account = accountKey(c.username);
    const waitAccount = this.perAccount.take(account);
    const waitAddress = this.perAddress.take(address);
    if (waitAccount > 0 || waitAddress > 0) {
      if (waitAccount === 0) this.perAccount.refund(account);
      if (waitAddress === 0) this.perAddress.refund(address);
      throw new AppError('rate_limited', 'too many failed logins; wait before trying again', { retryAfterMs: Math.max(waitAccount, waitAddress) });
    }
    // A name the database cannot hold names no account (and would fail the query).
    const user = unstorableReason(c.username) ? undefined : await findUserByName(this.o.db, c.username);
    const ok = await verifyPassword(c.password, user?.password_hash ?? (await dummyHash()));
    if (!user || !ok) throw new AppError('unauthorized', 'wrong username or password');
    this.perAccount.refund(account);
    this.perAddress.refund(address);
    const state = await tokenState(this.o.db, user.id);
    const { token, expiresAt } = await this.o.tokens.issue(user.id, state?.tokenVersion ?? 0);
    return { token, expiresAt, userId: user.id };
  }

  /**
   * The user a bearer token names, if the token is valid, the user still exists and the token was
   * not revoked (logout, password change). Tokens whose issuer is the configured external identity
   * provider are verified against its keys and mapped to a local user.
   */
  async authenticate(token: string): Promise<Authenticated | undefined> {
    const ext = this.o.external;
    if (ext?.claims(token)) {
      const claims = await ext.verify(token);
      if (!claims) return undefined;
      const userId = await this.o.db.transaction((tx) => externalUser(tx, ext.o.issuer, claims.subject, randomUUID()));
      const state = await tokenState(this.o.db, userId);
      // Logout stamps tokens_valid_after: the provider's tokens issued before it are refused.
      if (!state || claims.issuedAt < state.validAfter) return undefined;
      return { userId, expiresAt: claims.expiresAt, tokenVersion: state.tokenVersion };
    }
    const claims = await this.o.tokens.verify(token);
    if (!claims) return undefined;
    const state = await tokenState(this.o.db, claims.userId);
    if (!state || claims.version !== state.tokenVersion) return undefined;
    return { userId: claims.userId, expiresAt: claims.expiresAt, tokenVersion: state.tokenVersion };
  }

  /** Revokes every token and ticket the user holds (all devices). Returns the new token version. */
  async logout(userId: string): Promise<number> {
    return revokeTokens(this.o.db, userId);
  }

  /** Checks the current password (limited like a login), sets the new one, revokes earlier tokens, returns a fresh token. */
  async changePassword(userId: string, p: PasswordChange, address = ''): Promise<{ token: string; expiresAt: Date; userId: string }> {
    const user = await findUserById(this.o.db, userId);
    if (!user) throw new AppError('unauthorized', 'a valid bearer token is required');
    const account = accountKey(user.username);
    const wait = Math.max(this.perAccount.take(account), this.perAddress.take(address));
    if (wait > 0) throw new AppError('rate_limited', 'too many failed attempts; wait before trying again', { retryAfterMs: wait });
    if (!(await verifyPassword(p.currentPassword, user.password_hash))) throw new AppError('forbidden', 'the current password is wrong');
    this.perAccount.refund(account);
    this.perAddress.refund(address);
    const version = await revokeTokens(this.o.db, userId, await hashPassword(p.newPassword));
    const { token, expiresAt } = await this.o.tokens.issue(userId, version);
    return { token, expiresAt, userId };
  }

  /** The current token version of a user (a socket opened by ticket is stamped with it). */
  async tokenVersion(userId: string): Promise<number | undefined> {
    return (await tokenState(this.o.db, userId))?.tokenVersion;
  }

  async issueTicket(userId: string): Promise<{ ticket: string; expiresAt: Date }> {
    const ticket = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + TICKET_TTL_MS);
    await insertTicket(this.o.db, sha256(ticket), userId, expiresAt);
    // Expired tickets are cleaned up as new ones are issued; the table stays small.
    if (Math.random() < 0.05) await purgeExpiredTickets(this.o.db);
    return { ticket, expiresAt };
  }

  /** Consumes a ticket: the user it was issued to, once. */
  async redeemTicket(ticket: string): Promise<string | undefined> {
    if (ticket.length === 0 || ticket.length > 256) return undefined;
    return consumeTicket(this.o.db, sha256(ticket));
  }
}
