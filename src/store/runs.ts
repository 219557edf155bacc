// Reading run rows. What changes a run's status is in ./run-status.ts, its lease in ./leases.ts.
import type { Queryable } from './db.js';
import type { RunStatus } from '../protocol/events.js';

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

export const RUN_COLUMNS = 'id, thread_id, user_id, agent, input, status, last_seq, attempt, cancel_reason, created_at, finished_at';

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

/** The run's row, locked (the caller holds its thread's lock first). */
export async function lockRun(q: Queryable, runId: string): Promise<RunRow | undefined> {
  if (!isUuid(runId)) return undefined;
  const rows = await q.query<RunRow & Record<string, unknown>>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1 FOR UPDATE`, [runId]);
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

export async function threadRuns(q: Queryable, threadId: string, limit = 1000): Promise<RunRow[]> {
  return q.query<RunRow & Record<string, unknown>>(
    `SELECT ${RUN_COLUMNS} FROM runs WHERE thread_id = $1 ORDER BY created_at, id LIMIT $2`,
    [threadId, limit],
  );
}

/** The latest runs of every user, newest first (the visualizer's replay picker). */
export async function recentRuns(q: Queryable, limit: number): Promise<RunRow[]> {
  return q.query<RunRow & Record<string, unknown>>(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY created_at DESC, id LIMIT $1`, [limit]);
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

/** Waiting runs whose input deadline passed (INPUT_TIMEOUT_MS), oldest first. */
export async function expiredWaits(q: Queryable, limit: number): Promise<string[]> {
  const rows = await q.query<{ id: string }>(
    `SELECT id FROM runs WHERE status = 'waiting' AND input_deadline < now() ORDER BY input_deadline LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

export const iso = (d: Date | string | null): string | null =>
  d === null ? null : d instanceof Date ? d.toISOString() : new Date(d).toISOString();

/** The cancel stored for a run, if any (read under the run's lock by a question that could not park it). */
export async function cancelReason(q: Queryable, runId: string): Promise<string | null> {
  const rows = await q.query<{ cancel_reason: string | null }>('SELECT cancel_reason FROM runs WHERE id = $1', [runId]);
  return rows[0]?.cancel_reason ?? null;
}

/** What ending a waiting run needs of its row (its thread, owner and acceptance time). */
export async function runToEnd(q: Queryable, runId: string): Promise<Pick<RunRow, 'id' | 'thread_id' | 'user_id' | 'created_at'> | undefined> {
  const rows = await q.query<Pick<RunRow, 'id' | 'thread_id' | 'user_id' | 'created_at'> & Record<string, unknown>>(
    'SELECT id, thread_id, user_id, created_at FROM runs WHERE id = $1',
    [runId],
  );
  return rows[0];
}

/** Whether the waiting run's input deadline has passed (database clock). */
export async function inputDeadlinePassed(q: Queryable, runId: string): Promise<boolean> {
  const rows = await q.query('SELECT 1 FROM runs WHERE id = $1 AND input_deadline < now()', [runId]);
  return rows.length > 0;
}
