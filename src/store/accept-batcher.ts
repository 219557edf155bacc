// Group commit for accepts on a new thread (the common path: the run stored already claimed by this
// node's worker): accepts that arrive while a previous accept write is in flight are stored together
// by the next one, in one statement and one commit, whoever sent them. Under load (many users'
// requests at once) a write carries dozens of accepts; alone, an accept goes out at once (no added
// wait, no timer), as the one statement `insertNewThreadRun` it always was.
// Each accept keeps its own outcome: a repeated request key stores nothing and answers undefined
// (the caller answers the first run), also when both copies are in the same batch; a statement
// that fails for the batch (one row breaks a constraint) is retried accept by accept, so each gets
// its own result or error (an unreachable database fails them all).
import type { Db } from './db.js';
import { insertNewThreadRun, type ClaimedRun, type Lease, type NewThreadRun } from './run-status.js';
import { RUN_COLUMNS } from './runs.js';

interface Pending {
  r: NewThreadRun & { claim: Lease };
  resolve: (run: ClaimedRun | undefined) => void;
  reject: (err: unknown) => void;
}

const keyOf = (p: Pending) => `${p.r.userId}\u0000${p.r.requestId}`;

// insertNewThreadRun's statement over arrays, one row per accept (the claimed variant only). Each
// CTE inserts only the rows whose previous step returned them: a key that conflicts stores nothing
// else of its accept, and the other accepts of the batch go on.
const BATCH_SQL = `WITH i AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::uuid[], $10::text[], $11::text[], $12::int[])
      AS i(user_id, request_id, run_id, thread_id, title, agent, input, trace_context, message_id, content, lease_owner, lease_ms)
  ), k AS (
    INSERT INTO request_keys (user_id, request_id, run_id, thread_id) SELECT user_id, request_id, run_id, thread_id FROM i
    ON CONFLICT (user_id, request_id) DO NOTHING RETURNING run_id
  ), t AS (
    INSERT INTO threads (id, user_id, title) SELECT i.thread_id, i.user_id, i.title FROM i JOIN k ON k.run_id = i.run_id RETURNING id
  ), r AS (
    INSERT INTO runs (id, thread_id, user_id, agent, input, status, trace_context, queued_at, attempt, lease_owner, lease_expires_at)
    SELECT i.run_id, i.thread_id, i.user_id, i.agent, i.input::jsonb, 'running', i.trace_context, now(), 1, i.lease_owner,
      now() + i.lease_ms * interval '1 millisecond'
    FROM i JOIN t ON t.id = i.thread_id RETURNING ${RUN_COLUMNS}, trace_context, failed_attempts
  ), m AS (
    INSERT INTO messages (id, thread_id, run_id, role, content) SELECT i.message_id, i.thread_id, r.id, 'user', i.content FROM i JOIN r ON r.id = i.run_id
  )
  SELECT r.*, 0::float8 AS queue_wait_ms, true AS only_run FROM r`;

/** Most accepts one statement carries; more wait for the next write. */
const MAX_BATCH = 200;

export class AcceptBatcher {
  private waiting: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly db: Db,
    /**
     * Writes in flight at once: PGlite has one connection. On PostgreSQL one and two measured
     * alike in the closed loop (bench/results/profile-06fee2e-inflight2-vs-inflight1.json); two,
     * as for appends, lets an accept that arrives alone go out while a group is being written.
     */
    private readonly maxInFlight = db.kind === 'pg' ? 2 : 1,
  ) {}

  /**
   * Stores a request on a new thread, its run claimed by `r.claim` (see insertNewThreadRun): the
   * run, or undefined when the request key exists (a duplicate request).
   */
  store(r: NewThreadRun & { claim: Lease }): Promise<ClaimedRun | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ r, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      this.inFlight++;
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    if (batch.length === 1) return this.writeAlone(batch[0]!);
    // The same key twice in one statement: only the first copy goes in, and the others answer as
    // duplicates once it is stored (as they would have, arriving after it). ON CONFLICT would skip
    // them too, but which copy wins would then be up to the executor's row order.
    const seen = new Set<string>();
    const first: Pending[] = [];
    const repeats: Pending[] = [];
    for (const p of batch) {
      const key = keyOf(p);
      if (seen.has(key)) repeats.push(p);
      else {
        seen.add(key);
        first.push(p);
      }
    }
    // In key order: two writes in flight that share keys (a client's retries) then take the keys'
    // locks in the same order and wait for each other instead of deadlocking.
    first.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
    let rows: ClaimedRun[];
    try {
      rows = await this.insertMany(first.map((p) => p.r));
    } catch {
      // The statement failed for all: each accept alone, so each gets its own outcome.
      await Promise.all(batch.map((p) => this.writeAlone(p)));
      return;
    }
    const byRun = new Map(rows.map((row) => [row.id, row]));
    for (const p of first) p.resolve(byRun.get(p.r.runId));
    for (const p of repeats) p.resolve(undefined);
  }

  private writeAlone(p: Pending): Promise<void> {
    return insertNewThreadRun(this.db, p.r).then(p.resolve, p.reject);
  }

  private insertMany(rs: ReadonlyArray<NewThreadRun & { claim: Lease }>): Promise<ClaimedRun[]> {
    return this.db.query<ClaimedRun & Record<string, unknown>>(BATCH_SQL, [
      rs.map((r) => r.userId),
      rs.map((r) => r.requestId),
      rs.map((r) => r.runId),
      rs.map((r) => r.threadId),
      rs.map((r) => r.title),
      rs.map((r) => r.agent),
      rs.map((r) => JSON.stringify({ text: r.text })),
      rs.map((r) => r.traceContext ?? null),
      rs.map((r) => r.messageId),
      rs.map((r) => r.text),
      rs.map((r) => r.claim.owner),
      rs.map((r) => r.claim.ms),
    ]);
  }
}

const batchers = new WeakMap<Db, AcceptBatcher>();

/** The accept batcher of `db` (one per database handle, shared by every request of the process). */
export function acceptBatcher(db: Db): AcceptBatcher {
  let b = batchers.get(db);
  if (!b) {
    b = new AcceptBatcher(db);
    batchers.set(db, b);
  }
  return b;
}
