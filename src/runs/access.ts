// Authorisation, in one place: whether a thread or run is the caller's. What is not is
// `not_found`, word for word the answer for what does not exist, so existence never leaks
// (PROTOCOL sections 1 and 5). Every route and frame that takes a thread or run id goes through
// here; the queries behind it carry the user id in their WHERE clause. (Lists are read by user id
// directly: `listThreads`, the session snapshot, and the analyst's `usageReader(db, run owner)`.)
import { notFound } from '../protocol/errors.js';
import type { Queryable } from '../store/db.js';
import { getOwnRun, type RunRow } from '../store/runs.js';
import { getOwnThread, lockOwnThread, type ThreadRow } from '../store/threads.js';

export async function ownRun(q: Queryable, userId: string, runId: string): Promise<RunRow> {
  const run = await getOwnRun(q, runId, userId);
  if (!run) throw notFound('run');
  return run;
}

export async function ownThread(q: Queryable, userId: string, threadId: string): Promise<ThreadRow> {
  const thread = await getOwnThread(q, threadId, userId);
  if (!thread) throw notFound('thread');
  return thread;
}

/** Locks the caller's thread for the transaction (appending a run to it). */
export async function lockOwnThreadFor(tx: Queryable, userId: string, threadId: string): Promise<void> {
  if (!(await lockOwnThread(tx, threadId, userId))) throw notFound('thread');
}
