// The event log: `run_events (run_id, seq)`. An event exists once it is stored here; sockets,
// replay, the HTTP API and a resumed run all read these rows.
import type { SpanContext } from '@opentelemetry/api';
import { TERMINAL_TYPES, type RunEvent, type RunStatus } from '../protocol/events.js';
import type { Queryable } from './db.js';
import { isUuid } from './runs.js';

/** A stored event and its wire text, serialised once and shared by every socket. */
export interface StoredEvent {
  event: RunEvent;
  json: string;
  /** In-process only, while tracing: the run span that stored it (delivery spans are its children). */
  trace?: SpanContext;
}

export class StaleAttemptError extends Error {
  override name = 'StaleAttemptError';
  constructor(readonly runId: string, readonly attempt: number) {
    super(`run ${runId}: attempt ${attempt} is no longer the run's current attempt`);
  }
}

/**
 * Appends one event. The update of `runs.last_seq` and the insert are one statement, and both
 * require `last_seq = seq - 1` and the current `attempt`: seqs stay gapless and a stale worker
 * (whose attempt was superseded) can neither append nor finish the run.
 */
export async function appendEvent(
  q: Queryable,
  e: { event: RunEvent; attempt: number; json: string; finalStatus?: RunStatus },
): Promise<void> {
  const rows = await q.query(
    `WITH r AS (
       UPDATE runs SET last_seq = $2::int, updated_at = now(),
         status = COALESCE($5::text, status),
         finished_at = CASE WHEN $5::text IS NULL THEN finished_at ELSE now() END
       WHERE id = $1::uuid AND attempt = $3::int AND last_seq = $2::int - 1
       RETURNING id
     )
     INSERT INTO run_events (run_id, seq, type, body)
     SELECT $1::uuid, $2::int, $4::text, $6::jsonb FROM r RETURNING seq`,
    [e.event.runId, e.event.seq, e.attempt, e.event.type, e.finalStatus ?? null, e.json],
  );
  if (rows.length !== 1) throw new StaleAttemptError(e.event.runId, e.attempt);
}

/** Events with `seq > afterSeq`, in order, at most `limit`. */
export async function readEvents(q: Queryable, runId: string, afterSeq: number, limit = 500): Promise<StoredEvent[]> {
  if (!isUuid(runId)) return [];
  const rows = await q.query<{ body: RunEvent }>(
    'SELECT body FROM run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
    [runId, afterSeq, limit],
  );
  return rows.map((r) => ({ event: r.body, json: JSON.stringify(r.body) }));
}

/** The terminal types as an SQL list, from the protocol's one definition (constants, never input). */
const TERMINAL_SQL = TERMINAL_TYPES.map((t) => `'${t}'`).join(', ');

export async function terminalEvent(q: Queryable, runId: string): Promise<StoredEvent | undefined> {
  const rows = await q.query<{ body: RunEvent }>(
    `SELECT body FROM run_events WHERE run_id = $1 AND type IN (${TERMINAL_SQL})
     ORDER BY seq DESC LIMIT 1`,
    [runId],
  );
  const body = rows[0]?.body;
  return body ? { event: body, json: JSON.stringify(body) } : undefined;
}
