// What a socket's `session_ready` lists (runs active or not fully acknowledged), the acks, and the
// database clock the snapshot is taken on.
import type { InputRequest, RunStatus } from '../protocol/events.js';
import type { Queryable } from './db.js';

export async function upsertAck(q: Queryable, runId: string, seq: number): Promise<number> {
  const rows = await q.query<{ acked_seq: number }>(
    `INSERT INTO run_acks (run_id, acked_seq) VALUES ($1, $2)
     ON CONFLICT (run_id) DO UPDATE SET acked_seq = GREATEST(run_acks.acked_seq, EXCLUDED.acked_seq), updated_at = now()
     RETURNING acked_seq`,
    [runId, seq],
  );
  return rows[0]?.acked_seq ?? seq;
}

export interface SessionRunRow {
  id: string;
  thread_id: string;
  status: RunStatus;
  last_seq: number;
  acked_seq: number;
  /** A waiting run's open question (`input_requested`'s fields and seq). */
  waiting_for: (InputRequest & { seq: number }) | null;
}

/** The caller's runs still active or with events not acked, newest first (bounded). */
export async function sessionRuns(q: Queryable, userId: string, limit = 100): Promise<SessionRunRow[]> {
  return q.query<SessionRunRow & Record<string, unknown>>(
    `SELECT r.id, r.thread_id, r.status, r.last_seq, COALESCE(a.acked_seq, 0) AS acked_seq,
       CASE WHEN r.status = 'waiting' THEN r.waiting_for END AS waiting_for
     FROM runs r LEFT JOIN run_acks a ON a.run_id = r.id
     WHERE r.user_id = $1 AND (r.status IN ('pending', 'queued', 'running', 'waiting') OR r.last_seq > COALESCE(a.acked_seq, 0))
     ORDER BY r.created_at DESC, r.id DESC LIMIT $2`,
    [userId, limit],
  );
}

/** The database's clock: socket snapshots and run creation are compared on it, never on a node's. */
export async function dbNow(q: Queryable): Promise<number> {
  const rows = await q.query<{ now: Date | string }>('SELECT now() AS now');
  return new Date(rows[0]!.now).getTime();
}
