// SQL for threads, runs, messages, request keys and acks. The event log has its own module.
import type { InputRequest, RunStatus } from '../protocol/events.js';
import { storableText } from '../protocol/text.js';
import type { Queryable } from './db.js';

export interface RunRow {
  id: string;
  thread_id: string;
  user_id: string;
  agent: string;
  input: { text: string };
  status: RunStatus;
  last_seq: number;
  attempt: number;
  cancel_reason: string | null;
  created_at: Date | string;
  finished_at: Date | string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids are opaque on the wire; one that is not a UUID names nothing here. */
export const isUuid = (s: string): boolean => UUID.test(s);

const RUN_COLUMNS = 'id, thread_id, user_id, agent, input, status, last_seq, attempt, cancel_reason, created_at, finished_at';

export async function insertThread(q: Queryable, t: { id: string; userId: string; title: string }): Promise<void> {
  await q.query('INSERT INTO threads (id, user_id, title) VALUES ($1, $2, $3)', [t.id, t.userId, t.title]);
}

/** Locks the caller's thread row for this transaction; false when it is not the caller's. */
export async function lockOwnThread(q: Queryable, threadId: string, userId: string): Promise<boolean> {
  if (!isUuid(threadId)) return false;
  const rows = await q.query('SELECT id FROM threads WHERE id = $1 AND user_id = $2 FOR UPDATE', [threadId, userId]);
  return rows.length > 0;
}

export async function touchThread(q: Queryable, threadId: string): Promise<void> {
  await q.query('UPDATE threads SET updated_at = now() WHERE id = $1', [threadId]);
}

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

/**
 * A request on a new thread, in one statement: its idempotency key, the thread, the run and the
 * user's message. With `claim`, the run is stored already claimed by that worker (running, attempt
 * 1, its lease taken); without, it is queued. Nothing is stored when the key exists (undefined: a
 * duplicate request).
 */
export async function insertNewThreadRun(
  q: Queryable,
  r: {
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
  },
): Promise<ClaimedRun | undefined> {
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

/** The columns a run stored already claimed sets (attempt, lease), and their values for an owner and a lease length. */
const CLAIM_COLUMNS = 'attempt, lease_owner, lease_expires_at';
const claimValues = (owner: string, ms: string) =>
  `CASE WHEN ${owner}::text IS NULL THEN 0 ELSE 1 END, ${owner}::text, CASE WHEN ${owner}::text IS NULL THEN NULL ELSE now() + ${ms}::int * interval '1 millisecond' END`;

/** The thread's oldest waiting run, if no run holds the thread (nothing queued or running). */
export async function nextPendingRun(q: Queryable, threadId: string): Promise<{ id: string } | undefined> {
  const rows = await q.query<{ id: string }>(
    `SELECT id FROM runs WHERE thread_id = $1 AND status = 'pending'
       AND NOT EXISTS (SELECT 1 FROM runs b WHERE b.thread_id = $1 AND b.status IN ('queued', 'running', 'waiting'))
     ORDER BY created_at, id LIMIT 1`,
    [threadId],
  );
  return rows[0];
}

/** Runs of the thread that hold it: running, queued or waiting for their user, or waiting their turn. */
export async function activeRunsOfThread(q: Queryable, threadId: string): Promise<RunRow[]> {
  return q.query<RunRow & Record<string, unknown>>(
    `SELECT ${RUN_COLUMNS} FROM runs WHERE thread_id = $1 AND status IN ('pending', 'queued', 'running', 'waiting')
     ORDER BY created_at, id`,
    [threadId],
  );
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

export async function insertMessage(
  q: Queryable,
  m: { id: string; threadId: string; runId: string | null; role: 'user' | 'assistant'; content: string },
): Promise<void> {
  // An agent's answer may hold NUL or lone surrogates (input was refused at the boundary).
  await q.query('INSERT INTO messages (id, thread_id, run_id, role, content) VALUES ($1, $2, $3, $4, $5)', [
    m.id,
    m.threadId,
    m.runId,
    m.role,
    storableText(m.content),
  ]);
}

export async function getRun(q: Queryable, runId: string, opts: { forUpdate?: boolean } = {}): Promise<RunRow | undefined> {
  if (!isUuid(runId)) return undefined;
  const rows = await q.query<RunRow & Record<string, unknown>>(
    `SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [runId],
  );
  return rows[0];
}

/** The run if it belongs to `userId`; otherwise nothing, whether it exists or not. */
export async function getOwnRun(q: Queryable, runId: string, userId: string): Promise<RunRow | undefined> {
  const run = await getRun(q, runId);
  return run && run.user_id === userId ? run : undefined;
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

/** Locks a thread row for this transaction (no ownership check: internal callers only). */
export async function lockThread(tx: Queryable, threadId: string): Promise<ThreadLock> {
  await tx.query('SELECT id FROM threads WHERE id = $1 FOR UPDATE', [threadId]);
  return { tx, threadId };
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

/** The run's row, locked (the caller holds its thread's lock first). */
export async function lockRun(q: Queryable, runId: string): Promise<RunRow | undefined> {
  if (!isUuid(runId)) return undefined;
  const rows = await q.query<RunRow & Record<string, unknown>>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1 FOR UPDATE`, [runId]);
  return rows[0];
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

/** Waiting runs whose input deadline passed (INPUT_TIMEOUT_MS), oldest first. */
export async function expiredWaits(q: Queryable, limit: number): Promise<string[]> {
  const rows = await q.query<{ id: string }>(
    `SELECT id FROM runs WHERE status = 'waiting' AND input_deadline < now() ORDER BY input_deadline LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

/** A run whose log ends in a terminal event but whose row says otherwise (its finish was lost): mend the row. */
export async function settleFinishedRun(q: Queryable, runId: string, status: RunStatus): Promise<void> {
  await q.query(
    `UPDATE runs SET status = $2, lease_owner = NULL, lease_expires_at = NULL, finished_at = COALESCE(finished_at, now()), updated_at = now()
     WHERE id = $1 AND status IN ('queued', 'running')`,
    [runId, status],
  );
}

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
  return q.query<{ id: string; cancel_reason: string | null }>(
    `UPDATE runs r SET lease_expires_at = now() + $2::int * interval '1 millisecond'
     FROM jsonb_to_recordset($3::jsonb) AS h(id uuid, attempt int)
     WHERE r.id = h.id AND r.attempt = h.attempt AND r.lease_owner = $1 AND r.status = 'running'
     RETURNING r.id, r.cancel_reason`,
    [lease.owner, lease.ms, JSON.stringify(runs.map((r) => ({ id: r.runId, attempt: r.attempt })))],
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

/** Running runs whose lease lapsed: their worker is gone. Oldest first. */
export async function lapsedRuns(q: Queryable, limit: number): Promise<string[]> {
  const rows = await q.query<{ id: string }>(
    `SELECT id FROM runs WHERE status = 'running' AND lease_expires_at < now() ORDER BY lease_expires_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

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

/** When each run was accepted (database clock), with its owner. */
export async function runsCreatedAt(q: Queryable, runIds: readonly string[]): Promise<Map<string, { userId: string; createdAt: number }>> {
  const ids = runIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const rows = await q.query<{ id: string; user_id: string; created_at: Date | string }>(
    'SELECT id, user_id, created_at FROM runs WHERE id = ANY($1::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, { userId: r.user_id, createdAt: new Date(r.created_at).getTime() }]));
}

export interface ThreadRow {
  id: string;
  title: string;
  created_at: Date | string;
  updated_at: Date | string;
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

export interface MessageRow {
  id: string;
  run_id: string | null;
  role: 'user' | 'assistant';
  content: string;
  created_at: Date | string;
}

export async function threadMessages(q: Queryable, threadId: string, limit = 1000): Promise<MessageRow[]> {
  return q.query<MessageRow & Record<string, unknown>>(
    'SELECT id, run_id, role, content, created_at FROM messages WHERE thread_id = $1 ORDER BY created_at, id LIMIT $2',
    [threadId, limit],
  );
}

export async function threadRuns(q: Queryable, threadId: string, limit = 1000): Promise<RunRow[]> {
  return q.query<RunRow & Record<string, unknown>>(
    `SELECT ${RUN_COLUMNS} FROM runs WHERE thread_id = $1 ORDER BY created_at, id LIMIT $2`,
    [threadId, limit],
  );
}

/**
 * The thread's messages of the runs created before `beforeRunId`, newest first, at most `limit`:
 * by run (created_at, id), and within a run the answer before the question (reversed, each
 * question precedes its answer).
 */
export async function threadHistoryNewestFirst(
  q: Queryable,
  threadId: string,
  beforeRunId: string,
  limit: number,
): Promise<Array<Pick<MessageRow, 'role' | 'content'>>> {
  return q.query<Pick<MessageRow, 'role' | 'content'> & Record<string, unknown>>(
    `SELECT m.role, m.content
       FROM messages m
       JOIN runs r ON r.id = m.run_id
       JOIN runs cur ON cur.id = $2 AND cur.thread_id = $1
      WHERE m.thread_id = $1 AND (r.created_at, r.id) < (cur.created_at, cur.id)
      ORDER BY r.created_at DESC, r.id DESC, m.role = 'user', m.created_at DESC, m.id DESC
      LIMIT $3`,
    [threadId, beforeRunId, limit],
  );
}

export const iso = (d: Date | string | null): string | null =>
  d === null ? null : d instanceof Date ? d.toISOString() : new Date(d).toISOString();

/** The latest runs of every user, newest first (the visualizer's replay picker). */
export async function recentRuns(q: Queryable, limit: number): Promise<RunRow[]> {
  return q.query<RunRow & Record<string, unknown>>(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY created_at DESC, id LIMIT $1`, [limit]);
}
