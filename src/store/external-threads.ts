// `external_threads`: a client library's thread name (the AI SDK's chat id, AG-UI's threadId),
// per user and protocol, mapped to an agentwire thread.
import type { Queryable } from './db.js';

/** The thread `externalId` names for this user, if it names one. */
export async function findExternalThread(q: Queryable, userId: string, protocol: string, externalId: string): Promise<string | undefined> {
  const rows = await q.query<{ thread_id: string }>(
    'SELECT thread_id FROM external_threads WHERE user_id = $1 AND protocol = $2 AND external_id = $3',
    [userId, protocol, externalId],
  );
  return rows[0]?.thread_id;
}

/**
 * The thread `externalId` names, created (with `newThreadId`) on first use. One statement: of two
 * first uses at once, one inserts and the other finds nothing inserted and reads the winner's row.
 */
export async function ensureExternalThread(
  q: Queryable,
  t: { userId: string; protocol: string; externalId: string; newThreadId: string; title: string },
): Promise<string | undefined> {
  const rows = await q.query<{ thread_id: string }>(
    `WITH t AS (
       INSERT INTO threads (id, user_id, title)
       SELECT $4, $1, $5 WHERE NOT EXISTS (
         SELECT 1 FROM external_threads WHERE user_id = $1 AND protocol = $2 AND external_id = $3)
       RETURNING id
     ), m AS (
       INSERT INTO external_threads (user_id, protocol, external_id, thread_id)
       SELECT $1, $2, $3, id FROM t
       ON CONFLICT (user_id, protocol, external_id) DO NOTHING RETURNING thread_id
     )
     SELECT thread_id FROM m
     UNION ALL
     SELECT thread_id FROM external_threads WHERE user_id = $1 AND protocol = $2 AND external_id = $3`,
    [t.userId, t.protocol, t.externalId, t.newThreadId, t.title],
  );
  return rows[0]?.thread_id;
}
