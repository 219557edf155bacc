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
