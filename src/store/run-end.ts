// A run's end in one statement (migration 0009, `aw_end_run`): the thread's lock, the terminal
// event appended fenced by attempt and seq with the run's terminal status, the answer, and the
// thread's next waiting run promoted. It replaces a transaction of six round trips; one round trip
// holds a pooled connection for a sixth of the time. Ends that arrive together share one statement
// and one commit (./end-batcher.ts calls aw_end_run once per end over arrays).
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

/** A row of `aw_end_run`. */
export type EndRow = { outcome: RunEndResult['outcome'] } & { [K in keyof ClaimedRun]: ClaimedRun[K] | null };

type Opts = { claim: Lease | undefined; mayQueue: boolean };

/** aw_end_run's parameters but the last (`p_may_queue`), in its order (./end-batcher.ts sends them as arrays). */
export function endParams(e: RunEnd, opts: Opts): unknown[] {
  return [
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
  ];
}

/** The outcome a row of `aw_end_run` says. */
export function endResult(row: EndRow): RunEndResult {
  if (row.outcome !== 'ended') return { outcome: row.outcome };
  if (row.id === null) return { outcome: 'ended', next: undefined };
  const { outcome: _, ...next } = row;
  return { outcome: 'ended', next: next as ClaimedRun };
}

export async function endRun(q: Queryable, e: RunEnd, opts: Opts): Promise<RunEndResult> {
  const rows = await q.query<EndRow & Record<string, unknown>>('SELECT * FROM aw_end_run($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12)', [
    ...endParams(e, opts),
    opts.mayQueue,
  ]);
  const row = rows[0];
  if (!row) throw new Error(`aw_end_run returned nothing for run ${e.event.runId}`);
  return endResult(row);
}
