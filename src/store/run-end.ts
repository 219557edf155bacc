// A run's end in one statement (migration 0009, `aw_end_run`): the thread's lock, the terminal
// event appended fenced by attempt and seq with the run's terminal status, the answer, and the
// thread's next waiting run promoted. It replaces a transaction of six round trips; one round trip
// holds a pooled connection for a sixth of the time.
import type { RunEvent, RunStatus } from '../protocol/events.js';
import { storableText } from '../protocol/text.js';
import type { Queryable } from './db.js';
import type { ClaimedRun, Lease } from './run-status.js';

export interface RunEnd {
  event: RunEvent;
  attempt: number;
  /** The event's stored text (the recorder serialised it once). */
  json: string;
  status: RunStatus;
  /** The assistant's answer, stored as the thread's message (completed runs only). */
  answer?: { messageId: string; text: string } | undefined;
}

export type RunEndResult =
  /** The fence refused the event: another attempt holds the run. Nothing was written. */
  | { outcome: 'stale' }
  /**
   * The thread has a run waiting its turn, no slot was lent and `mayQueue` was false: nothing was
   * written. Do it again in a transaction with `mayQueue`, which sends the promoted run's job.
   */
  | { outcome: 'queue' }
  /** Stored; `next` is the thread's run promoted with it: claimed with the lease given, else queued. */
  | { outcome: 'ended'; next: ClaimedRun | undefined };

type Row = { outcome: RunEndResult['outcome'] } & { [K in keyof ClaimedRun]: ClaimedRun[K] | null };

export async function endRun(q: Queryable, e: RunEnd, opts: { claim: Lease | undefined; mayQueue: boolean }): Promise<RunEndResult> {
  const rows = await q.query<Row & Record<string, unknown>>('SELECT * FROM aw_end_run($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12)', [
    e.event.runId,
    e.event.threadId,
    e.event.seq,
    e.attempt,
    e.event.type,
    e.json,
    e.status,
    e.answer?.messageId ?? null,
    // An agent's answer may hold NUL or lone surrogates (input was refused at the boundary).
    e.answer ? storableText(e.answer.text) : null,
    opts.claim?.owner ?? null,
    opts.claim?.ms ?? null,
    opts.mayQueue,
  ]);
  const row = rows[0];
  if (!row) throw new Error(`aw_end_run returned nothing for run ${e.event.runId}`);
  if (row.outcome !== 'ended') return { outcome: row.outcome };
  if (row.id === null) return { outcome: 'ended', next: undefined };
  const { outcome: _, ...next } = row;
  return { outcome: 'ended', next: next as ClaimedRun };
}
