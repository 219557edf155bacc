// A worker's hold on the runs it executes: renewed while it runs them, released on shutdown or
// after a failed attempt, and found lapsed by the scan that takes runs over.
import type { Queryable } from './db.js';
import type { Lease } from './run-status.js';

/**
 * Extends the leases `owner` holds. Returns the runs still held, with any cancel request stored
 * for them (how a cancel reaches a worker on another node when a notification was missed).
 */
export async function renewLeases(
  q: Queryable,
  lease: Lease,
  runs: ReadonlyArray<{ runId: string; attempt: number }>,
): Promise<Array<{ id: string; cancel_reason: string | null }>> {
  if (runs.length === 0) return [];
  // `r.id = ANY(…)` gives the planner the primary key to look the runs up by. Joined to the held
  // list alone (jsonb_to_recordset before), it scanned every running run and, for each, the whole
  // list: 80 ms for 100 of 2,000 running runs, seconds for all of them (EXPLAIN ANALYZE in
  // docs/performance.md, scenario (c)); 11 ms with it.
  return q.query<{ id: string; cancel_reason: string | null }>(
    `UPDATE runs r SET lease_expires_at = now() + $2::int * interval '1 millisecond'
     FROM unnest($3::uuid[], $4::int[]) AS h(id, attempt)
     WHERE r.id = ANY($3::uuid[]) AND r.id = h.id AND r.attempt = h.attempt AND r.lease_owner = $1 AND r.status = 'running'
     RETURNING r.id, r.cancel_reason`,
    [lease.owner, lease.ms, runs.map((r) => r.runId), runs.map((r) => r.attempt)],
  );
}

/** Lets a run go at once (graceful shutdown): any worker may claim it now. */
export async function releaseLease(q: Queryable, runId: string, owner: string, attempt: number): Promise<void> {
  await q.query(
    `UPDATE runs SET lease_owner = NULL, lease_expires_at = now() - interval '1 second'
     WHERE id = $1 AND lease_owner = $2 AND attempt = $3 AND status = 'running'`,
    [runId, owner, attempt],
  );
}

/**
 * Lets a run go after its attempt failed: the lease names no owner and lapses in `delayMs`, when
 * the scan for lapsed leases (any worker's) claims it again; the failure is counted. Fenced by
 * `attempt`: nothing happens if another attempt holds the run. Returns the failures counted.
 */
export async function releaseAfterFailure(q: Queryable, runId: string, owner: string, attempt: number, delayMs: number): Promise<number | undefined> {
  const rows = await q.query<{ failed_attempts: number }>(
    `UPDATE runs SET lease_owner = NULL, lease_expires_at = now() + $4::int * interval '1 millisecond',
       failed_attempts = failed_attempts + 1, updated_at = now()
     WHERE id = $1 AND lease_owner = $2 AND attempt = $3 AND status = 'running'
     RETURNING failed_attempts`,
    [runId, owner, attempt, Math.round(delayMs)],
  );
  return rows[0]?.failed_attempts;
}

/** Running runs whose lease lapsed: their worker is gone. Oldest first. */
export async function lapsedRuns(q: Queryable, limit: number): Promise<string[]> {
  const rows = await q.query<{ id: string }>(
    `SELECT id FROM runs WHERE status = 'running' AND lease_expires_at < now() ORDER BY lease_expires_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}
