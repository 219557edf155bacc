// Idempotency keys: a request id a user sent before names the run it started.
import type { Queryable } from './db.js';

export async function findRequestKey(
  q: Queryable,
  userId: string,
  requestId: string,
): Promise<{ run_id: string; thread_id: string } | undefined> {
  const rows = await q.query<{ run_id: string; thread_id: string }>(
    'SELECT run_id, thread_id FROM request_keys WHERE user_id = $1 AND request_id = $2',
    [userId, requestId],
  );
  return rows[0];
}

/** False when the key exists already (a concurrent duplicate won). */
export async function insertRequestKey(
  q: Queryable,
  k: { userId: string; requestId: string; runId: string; threadId: string },
): Promise<boolean> {
  const rows = await q.query(
    `INSERT INTO request_keys (user_id, request_id, run_id, thread_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (user_id, request_id) DO NOTHING RETURNING run_id`,
    [k.userId, k.requestId, k.runId, k.threadId],
  );
  return rows.length === 1;
}
