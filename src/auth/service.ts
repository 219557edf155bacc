// Users, logins and socket tickets (PROTOCOL sections 1 and 2).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../protocol/errors.js';
import type { Db, Queryable } from '../store/db.js';
import { consumeTicket, findUserByName, insertTicket, insertUser, purgeExpiredTickets, userExists } from '../store/users.js';
import { dummyHash, hashPassword, verifyPassword } from './passwords.js';
import type { TokenService } from './tokens.js';

export const credentialsSchema = z.strictObject({
  username: z
    .string()
    .min(3)
    .max(64)
    .regex(/^[A-Za-z0-9_.@-]+$/, 'letters, digits and _ . @ - only'),
  password: z.string().min(8).max(256),
});
export type Credentials = z.infer<typeof credentialsSchema>;

export const TICKET_TTL_MS = 30_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

export interface AuthServiceOptions {
  db: Db;
  tokens: TokenService;
  allowRegistration: boolean;
  /** Runs in the registering transaction (e.g. the analyst's sample usage set). */
  onUserCreated?: (tx: Queryable, user: { id: string; username: string }) => Promise<void>;
}

export class AuthService {
  constructor(private readonly o: AuthServiceOptions) {}

  async register(c: Credentials): Promise<{ userId: string }> {
    if (!this.o.allowRegistration) throw new AppError('forbidden', 'registration is switched off on this server');
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

  /** The same refusal for an unknown user and a wrong password, at the same cost. */
  async login(c: Credentials): Promise<{ token: string; expiresAt: Date; userId: string }> {
    const user = await findUserByName(this.o.db, c.username);
    const ok = await verifyPassword(c.password, user?.password_hash ?? (await dummyHash()));
    if (!user || !ok) throw new AppError('unauthorized', 'wrong username or password');
    const { token, expiresAt } = await this.o.tokens.issue(user.id);
    return { token, expiresAt, userId: user.id };
  }

  /** The user a bearer token names, if the token is valid and the user still exists. */
  async authenticate(token: string): Promise<{ userId: string; expiresAt: Date } | undefined> {
    const claims = await this.o.tokens.verify(token);
    if (!claims) return undefined;
    return (await userExists(this.o.db, claims.userId)) ? claims : undefined;
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
