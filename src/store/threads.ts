// Threads: their rows, their lock (taken first by every transaction that changes runs of a thread),
// and the caller's list of them.
import type { Queryable } from './db.js';
import { isUuid } from './runs.js';

export interface ThreadRow {
  id: string;
  title: string;
  created_at: Date | string;
  updated_at: Date | string;
}

/**
 * Proof that a transaction holds a thread's row lock. Locks are taken in one order everywhere:
 * the thread, then its runs' queue jobs, then its runs (docs/reliability.md). What changes more
 * than one run of a thread, or a run and its thread, asks for this first.
 */
export interface ThreadLock {
  readonly tx: Queryable;
  readonly threadId: string;
}

export async function insertThread(q: Queryable, t: { id: string; userId: string; title: string }): Promise<void> {
  await q.query('INSERT INTO threads (id, user_id, title) VALUES ($1, $2, $3)', [t.id, t.userId, t.title]);
}

/** Locks the caller's thread row for this transaction; false when it is not the caller's. */
export async function lockOwnThread(q: Queryable, threadId: string, userId: string): Promise<boolean> {
  if (!isUuid(threadId)) return false;
  const rows = await q.query('SELECT id FROM threads WHERE id = $1 AND user_id = $2 FOR UPDATE', [threadId, userId]);
  return rows.length > 0;
}

/** Locks a thread row for this transaction (no ownership check: internal callers only). */
export async function lockThread(tx: Queryable, threadId: string): Promise<ThreadLock> {
  await tx.query('SELECT id FROM threads WHERE id = $1 FOR UPDATE', [threadId]);
  return { tx, threadId };
}

export async function touchThread(q: Queryable, threadId: string): Promise<void> {
  await q.query('UPDATE threads SET updated_at = now() WHERE id = $1', [threadId]);
}

export async function listThreads(
  q: Queryable,
  userId: string,
  page: { limit: number; before?: { createdAt: string; id: string } },
): Promise<ThreadRow[]> {
  const params: unknown[] = [userId, page.limit];
  let where = 'user_id = $1';
  if (page.before) {
    params.push(page.before.createdAt, page.before.id);
    where += ' AND (created_at, id) < ($3::timestamptz, $4::uuid)';
  }
  return q.query<ThreadRow & Record<string, unknown>>(
    `SELECT id, title, created_at, updated_at FROM threads WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $2`,
    params,
  );
}

export async function getOwnThread(q: Queryable, threadId: string, userId: string): Promise<ThreadRow | undefined> {
  if (!isUuid(threadId)) return undefined;
  const rows = await q.query<ThreadRow & Record<string, unknown>>(
    'SELECT id, title, created_at, updated_at FROM threads WHERE id = $1 AND user_id = $2',
    [threadId, userId],
  );
  return rows[0];
}
