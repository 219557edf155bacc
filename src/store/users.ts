import type { Queryable } from './db.js';
import { isUuid } from './runs.js';

export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
}

/** False when the username is taken. Never raises for that, so the caller's transaction stays usable. */
export async function insertUser(db: Queryable, user: { id: string; username: string; passwordHash: string }): Promise<boolean> {
  const rows = await db.query(
    'INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING RETURNING id',
    [user.id, user.username, user.passwordHash],
  );
  return rows.length === 1;
}

export async function findUserByName(db: Queryable, username: string): Promise<UserRow | undefined> {
  const rows = await db.query<UserRow & Record<string, unknown>>(
    'SELECT id, username, password_hash FROM users WHERE username = $1',
    [username],
  );
  return rows[0];
}

export async function userExists(db: Queryable, userId: string): Promise<boolean> {
  if (!isUuid(userId)) return false;
  const rows = await db.query('SELECT 1 FROM users WHERE id = $1', [userId]);
  return rows.length > 0;
}

export interface TokenState {
  tokenVersion: number;
  /** Epoch ms; tokens of an external identity provider issued before it are revoked. 0: none. */
  validAfter: number;
}

/** What decides whether a token of the user is still valid; undefined when the user does not exist. */
export async function tokenState(db: Queryable, userId: string): Promise<TokenState | undefined> {
  if (!isUuid(userId)) return undefined;
  const rows = await db.query<{ token_version: number; valid_after: string | number | null }>(
    'SELECT token_version, (extract(epoch FROM tokens_valid_after) * 1000)::float8 AS valid_after FROM users WHERE id = $1',
    [userId],
  );
  const r = rows[0];
  return r ? { tokenVersion: Number(r.token_version), validAfter: r.valid_after === null ? 0 : Number(r.valid_after) } : undefined;
}

/** The token state of many users at once (the revocation sweep over open sockets). */
export async function tokenStates(db: Queryable, userIds: readonly string[]): Promise<Map<string, TokenState>> {
  const ids = userIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const rows = await db.query<{ id: string; token_version: number; valid_after: string | number | null }>(
    'SELECT id, token_version, (extract(epoch FROM tokens_valid_after) * 1000)::float8 AS valid_after FROM users WHERE id = ANY($1::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, { tokenVersion: Number(r.token_version), validAfter: r.valid_after === null ? 0 : Number(r.valid_after) }]));
}

/** Revokes every token issued so far (and unused tickets); optionally sets a new password. Returns the new version. */
export async function revokeTokens(db: Queryable, userId: string, newPasswordHash?: string): Promise<number> {
  const rows = await db.query<{ token_version: number }>(
    `UPDATE users SET token_version = token_version + 1, tokens_valid_after = now(),
       password_hash = COALESCE($2, password_hash)
     WHERE id = $1 RETURNING token_version`,
    [userId, newPasswordHash ?? null],
  );
  await db.query('DELETE FROM ws_tickets WHERE user_id = $1', [userId]);
  return Number(rows[0]?.token_version ?? 0);
}

export async function findUserById(db: Queryable, userId: string): Promise<UserRow | undefined> {
  if (!isUuid(userId)) return undefined;
  const rows = await db.query<UserRow & Record<string, unknown>>('SELECT id, username, password_hash FROM users WHERE id = $1', [userId]);
  return rows[0];
}

/** The local user of an external identity, created on first sight. */
export async function externalUser(db: Queryable, issuer: string, subject: string, newId: string): Promise<string> {
  const found = await db.query<{ user_id: string }>('SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = $2', [issuer, subject]);
  if (found[0]) return found[0].user_id;
  // The username is not a valid login name (':' is refused by the register/login schema).
  await db.query("INSERT INTO users (id, username, password_hash) VALUES ($1, $2, '!') ON CONFLICT DO NOTHING", [newId, `ext:${newId}`]);
  const rows = await db.query<{ user_id: string }>(
    `INSERT INTO external_identities (issuer, subject, user_id) VALUES ($1, $2, $3)
     ON CONFLICT (issuer, subject) DO UPDATE SET issuer = EXCLUDED.issuer RETURNING user_id`,
    [issuer, subject, newId],
  );
  const userId = rows[0]!.user_id;
  // Lost a race with another request for the same identity: the spare user row goes.
  if (userId !== newId) await db.query('DELETE FROM users WHERE id = $1', [newId]);
  return userId;
}

export async function insertTicket(db: Queryable, ticketHash: string, userId: string, expiresAt: Date): Promise<void> {
  await db.query('INSERT INTO ws_tickets (ticket_hash, user_id, expires_at) VALUES ($1, $2, $3)', [
    ticketHash,
    userId,
    expiresAt.toISOString(),
  ]);
}

/** Consumes a ticket atomically: it works once, and only before it expires. */
export async function consumeTicket(db: Queryable, ticketHash: string): Promise<string | undefined> {
  const rows = await db.query<{ user_id: string }>(
    'DELETE FROM ws_tickets WHERE ticket_hash = $1 RETURNING user_id, expires_at > now() AS live',
    [ticketHash],
  );
  const row = rows[0] as { user_id: string; live?: boolean } | undefined;
  return row && row.live ? row.user_id : undefined;
}

export async function purgeExpiredTickets(db: Queryable): Promise<void> {
  await db.query('DELETE FROM ws_tickets WHERE expires_at < now()');
}

export async function usernameOf(db: Queryable, userId: string): Promise<string | undefined> {
  const rows = await db.query<{ username: string }>('SELECT username FROM users WHERE id::text = $1', [userId]);
  return rows[0]?.username;
}
