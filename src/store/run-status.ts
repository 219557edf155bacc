// Every statement that moves a run from one status to another, in one place (docs/architecture.md,
// "A run's status"): stored (pending, queued, or running already claimed), promoted, claimed,
// parked (waiting), continued after an answer, and ended before it started or mended after a lost
// finish. The one other writer is the event log's append (./event-log.ts), which sets the terminal
// status in the same statement that stores the terminal event, so the row and the log never disagree.
import type { InputRequest, RunEvent, RunStatus } from '../protocol/events.js';
import type { Queryable } from './db.js';
import { RUN_COLUMNS, type RunRow } from './runs.js';

export interface Lease {
  owner: string;
  ms: number;
}

/** A claimed run, with what its attempt's telemetry needs. */
export interface ClaimedRun extends RunRow {
  /** The accepting request's W3C traceparent (null when tracing was off then). */
  trace_context: string | null;
  /** First claims only: how long the run waited for a worker, by the database clock. */
  queue_wait_ms: number | null;
  /** The thread has no other run: no earlier message to read as history. */
  only_run: boolean;
  /** Earlier attempts that failed (this one not counted). */
  failed_attempts: number;
}

const CLAIMED = `${RUN_COLUMNS}, trace_context, failed_attempts,
       CASE WHEN attempt = 1 THEN (extract(epoch FROM now() - queued_at) * 1000)::float8 END AS queue_wait_ms,
       NOT EXISTS (SELECT 1 FROM runs o WHERE o.thread_id = runs.thread_id AND o.id <> runs.id) AS only_run`;

/** The columns a run stored already claimed sets (attempt, lease), and their values for an owner and a lease length. */
const CLAIM_COLUMNS = 'attempt, lease_owner, lease_expires_at';

const claimValues = (owner: string, ms: string) =>
  `CASE WHEN ${owner}::text IS NULL THEN 0 ELSE 1 END, ${owner}::text, CASE WHEN ${owner}::text IS NULL THEN NULL ELSE now() + ${ms}::int * interval '1 millisecond' END`;

/** What a request on a new thread stores (insertNewThreadRun; grouped by ./accept-batcher.ts). */
export interface NewThreadRun {
  userId: string;
  requestId: string;
  runId: string;
  threadId: string;
  title: string;
  agent: string;
  text: string;
  messageId: string;
  traceContext?: string | null;
  claim?: Lease | undefined;
}

/**
 * A request on a new thread, in one statement: its idempotency key, the thread, the run and the
 * user's message. With `claim`, the run is stored already claimed by that worker (running, attempt
 * 1, its lease taken); without, it is queued. Nothing is stored when the key exists (undefined: a
 * duplicate request).
 */
export async function insertNewThreadRun(q: Queryable, r: NewThreadRun): Promise<ClaimedRun | undefined> {
  const rows = await q.query<ClaimedRun & Record<string, unknown>>(
    `WITH k AS (
       INSERT INTO request_keys (user_id, request_id, run_id, thread_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id, request_id) DO NOTHING RETURNING run_id
     ), t AS (
       INSERT INTO threads (id, user_id, title) SELECT $4, $1, $5 FROM k RETURNING id
     ), r AS (
       INSERT INTO runs (id, thread_id, user_id, agent, input, status, trace_context, queued_at, ${CLAIM_COLUMNS})
       SELECT $3, t.id, $1, $6, $7::jsonb, CASE WHEN $11::text IS NULL THEN 'queued' ELSE 'running' END, $8, now(), ${claimValues('$11', '$12')}
       FROM t RETURNING ${RUN_COLUMNS}, trace_context, failed_attempts
     ), m AS (
       INSERT INTO messages (id, thread_id, run_id, role, content) SELECT $9, $4, r.id, 'user', $10 FROM r
     )
     SELECT r.*, 0::float8 AS queue_wait_ms, true AS only_run FROM r`,
    [
      r.userId,
      r.requestId,
      r.runId,
      r.threadId,
      r.title,
      r.agent,
      JSON.stringify({ text: r.text }),
      r.traceContext ?? null,
      r.messageId,
      r.text,
      r.claim?.owner ?? null,
      r.claim?.ms ?? null,
    ],
  );
  return rows[0];
}

/**
 * Stores a run of an existing thread: `pending` (waits for the thread), `queued`, or, with
 * `claim`, `running` already claimed by that worker (attempt 1, its lease taken).
 */
export async function insertRun(
  q: Queryable,
  r: {
    id: string;
    threadId: string;
    userId: string;
    agent: string;
    input: { text: string };
    status: 'pending' | 'queued' | 'running';
    traceContext?: string | null;
    claim?: Lease | undefined;
  },
): Promise<ClaimedRun> {
  if ((r.status === 'running') !== (r.claim !== undefined)) throw new Error('a run is stored running exactly when it is stored claimed');
  const rows = await q.query<ClaimedRun & Record<string, unknown>>(
    `INSERT INTO runs (id, thread_id, user_id, agent, input, status, trace_context, queued_at, ${CLAIM_COLUMNS})
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, CASE WHEN $6 IN ('queued', 'running') THEN now() END, ${claimValues('$8', '$9')})
     RETURNING ${RUN_COLUMNS}, trace_context, failed_attempts, 0::float8 AS queue_wait_ms, false AS only_run`,
    [r.id, r.threadId, r.userId, r.agent, JSON.stringify(r.input), r.status, r.traceContext ?? null, r.claim?.owner ?? null, r.claim?.ms ?? null],
  );
  return rows[0]!;
}

/**
 * A waiting run gets its turn: queued, or with `claim` running already claimed by that worker
 * (attempt 1, its lease taken). Nothing when it is no longer waiting (cancelled meanwhile).
 */
export async function promotePending(q: Queryable, runId: string, claim?: Lease): Promise<ClaimedRun | undefined> {
  const rows = await q.query<ClaimedRun & Record<string, unknown>>(
    `UPDATE runs SET status = CASE WHEN $2::text IS NULL THEN 'queued' ELSE 'running' END, queued_at = now(), updated_at = now(),
       attempt = CASE WHEN $2::text IS NULL THEN attempt ELSE attempt + 1 END, lease_owner = $2::text,
       lease_expires_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() + $3::int * interval '1 millisecond' END
     WHERE id = $1 AND status = 'pending'
     RETURNING ${RUN_COLUMNS}, trace_context, failed_attempts, 0::float8 AS queue_wait_ms, false AS only_run`,
    [runId, claim?.owner ?? null, claim?.ms ?? null],
  );
  return rows[0];
}

/**
 * Claims a run for execution: a queued run, or a running one whose lease lapsed (its worker died,
 * lost the database, or let it go). Bumps `attempt`, which fences every write of the earlier
 * attempt, and takes the lease. A lapsed lease that still names its owner was not let go: that
 * attempt failed, and counts in `failed_attempts`. Returns nothing when the run is finished or
 * held by a live lease.
 */
export async function claimRun(q: Queryable, runId: string, lease: Lease = { owner: 'anonymous', ms: 60_000 }): Promise<ClaimedRun | undefined> {
  const rows = await q.query<ClaimedRun & Record<string, unknown>>(
    `UPDATE runs SET status = 'running', attempt = attempt + 1, lease_owner = $2,
       lease_expires_at = now() + $3::int * interval '1 millisecond', updated_at = now(),
       failed_attempts = failed_attempts + CASE WHEN status = 'running' AND lease_owner IS NOT NULL THEN 1 ELSE 0 END
     WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < now())))
     RETURNING ${CLAIMED}`,
    [runId, lease.owner, lease.ms],
  );
  return rows[0];
}

/** Claims those of `runIds` that are queued (their queue jobs were fetched in the same transaction). */
export async function claimQueuedRuns(q: Queryable, runIds: readonly string[], lease: Lease): Promise<ClaimedRun[]> {
  if (runIds.length === 0) return [];
  return q.query<ClaimedRun & Record<string, unknown>>(
    `UPDATE runs SET status = 'running', attempt = attempt + 1, lease_owner = $2,
       lease_expires_at = now() + $3::int * interval '1 millisecond', updated_at = now()
     WHERE id = ANY($1::uuid[]) AND status = 'queued'
     RETURNING ${CLAIMED}`,
    [runIds, lease.owner, lease.ms],
  );
}

/**
 * Parks a run that asked its user, in the transaction that stores its `input_requested`: status
 * `waiting`, no lease (no worker holds it), the question kept for `session_ready`, and the input
 * deadline when there is one. Fenced by `attempt`; refused (false) when a cancel was stored for the
 * run meanwhile, so the cancel is honoured instead.
 */
export async function parkRun(q: Queryable, runId: string, attempt: number, question: InputRequest & { seq: number }, timeoutMs: number | undefined): Promise<boolean> {
  const rows = await q.query(
    `UPDATE runs SET status = 'waiting', lease_owner = NULL, lease_expires_at = NULL, waiting_for = $3::jsonb, updated_at = now(),
       input_deadline = CASE WHEN $4::int IS NULL THEN NULL ELSE now() + $4::int * interval '1 millisecond' END
     WHERE id = $1 AND attempt = $2 AND status = 'running' AND cancel_reason IS NULL RETURNING id`,
    [runId, attempt, JSON.stringify(question), timeoutMs ?? null],
  );
  return rows.length === 1;
}

/**
 * A waiting run got its answer: queued, or with `claim` running already claimed by that worker
 * (its attempt bumped, its lease taken). Nothing when it is no longer waiting.
 */
export async function continueWaiting(q: Queryable, runId: string, claim?: Lease): Promise<ClaimedRun | undefined> {
  const rows = await q.query<ClaimedRun & Record<string, unknown>>(
    `UPDATE runs SET status = CASE WHEN $2::text IS NULL THEN 'queued' ELSE 'running' END, queued_at = now(), updated_at = now(),
       waiting_for = NULL, input_deadline = NULL,
       attempt = CASE WHEN $2::text IS NULL THEN attempt ELSE attempt + 1 END, lease_owner = $2::text,
       lease_expires_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() + $3::int * interval '1 millisecond' END
     WHERE id = $1 AND status = 'waiting'
     RETURNING ${CLAIMED}`,
    [runId, claim?.owner ?? null, claim?.ms ?? null],
  );
  return rows[0];
}

/** A run whose log ends in a terminal event but whose row says otherwise (its finish was lost): mend the row. */
export async function settleFinishedRun(q: Queryable, runId: string, status: RunStatus): Promise<void> {
  await q.query(
    `UPDATE runs SET status = $2, lease_owner = NULL, lease_expires_at = NULL, finished_at = COALESCE(finished_at, now()), updated_at = now()
     WHERE id = $1 AND status IN ('queued', 'running')`,
    [runId, status],
  );
}

/**
 * Appends the terminal event of a run that never started (cancelled while it waited), keeping the
 * grammar: `agent_started` then the terminal event. Only when nothing was stored yet.
 */
export async function appendUnstartedTerminal(q: Queryable, events: [RunEvent, RunEvent], status: RunStatus): Promise<boolean> {
  const [first, last] = events;
  const rows = await q.query(
    `UPDATE runs SET last_seq = 2, status = $2, finished_at = now(), updated_at = now()
     WHERE id = $1 AND last_seq = 0 AND status IN ('pending', 'queued') RETURNING id`,
    [first.runId, status],
  );
  if (rows.length !== 1) return false;
  await q.query(
    'INSERT INTO run_events (run_id, seq, type, body) VALUES ($1, 1, $2, $3::jsonb), ($1, 2, $4, $5::jsonb)',
    [first.runId, first.type, JSON.stringify(first), last.type, JSON.stringify(last)],
  );
  return true;
}

/**
 * Remembers a cancel in the run's row, for a run not waiting for its user: a worker that claims it
 * later (or after a crash) honours it, and a worker that missed the notification learns it when it
 * renews its lease. False when the run is not pending, queued or running (it parked meanwhile, or ended).
 */
export async function requestCancel(q: Queryable, runId: string, reason: string): Promise<boolean> {
  const rows = await q.query(
    `UPDATE runs SET cancel_reason = COALESCE(cancel_reason, $2) WHERE id = $1 AND status IN ('pending', 'queued', 'running') RETURNING id`,
    [runId, reason],
  );
  return rows.length === 1;
}
