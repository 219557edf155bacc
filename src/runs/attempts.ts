// Failed attempts and their limit. An attempt fails when it throws outside the executor's own
// terminal handling (the stored log cannot be replayed, a read or the terminal transaction fails
// on something other than a lost connection) or loses its lease (its worker died or lost the
// database). A failed attempt lets the run go for a while (backoff) and any worker's scan for
// lapsed leases takes it up again; after RUN_MAX_ATTEMPTS failures the run ends with
// `agent_error {code: "attempts_exhausted", retryable: false}`.
import type { RunEvent } from '../protocol/events.js';
import type { Db } from '../store/db.js';
import { appendEvent, terminalEvent } from '../store/event-log.js';
import { lockThread } from '../store/threads.js';
import { settleFinishedRun, type ClaimedRun } from '../store/run-status.js';
import { statusForTerminal, type TerminalType } from '../protocol/events.js';
import { backoffMs } from '../time/backoff.js';
import type { Telemetry } from '../telemetry/index.js';
import type { RunEventBus } from './bus.js';
import type { Handoff } from './handoff.js';
import type { ThreadTurns } from './scheduler.js';

/** Doublings of the retry delay at most: the 7th and later retries wait 64 × RUN_RETRY_DELAY_MS. */
const MAX_DOUBLINGS = 6;

/**
 * The wait before the retry of a run that failed `failures` times: `baseMs` doubling per failure,
 * capped, with half of it random (runs that failed together do not come back together).
 */
export function retryDelayMs(failures: number, baseMs: number, random = Math.random): number {
  return backoffMs(failures, { baseMs, maxMs: baseMs * 2 ** MAX_DOUBLINGS }, random);
}

export const exhaustedMessage = (attempts: number) => `the run failed on each of its ${attempts} attempts`;

export interface ExhaustDeps {
  db: Db;
  bus: RunEventBus;
  /** The thread's next turn, in the terminal transaction (the scheduler). */
  turns: ThreadTurns;
  telemetry?: Telemetry;
}

/**
 * Ends a run whose attempts are used up with `agent_error attempts_exhausted`, as attempt
 * `run.attempt` (fenced: nothing is stored if another attempt holds the run). The event is appended
 * without the run statechart: the stored log may be what made every attempt fail (one the
 * statechart refuses to replay), and `agent_error` is what the grammar allows after any event but
 * a terminal one. A log without events gets its `agent_started` first. Returns false when nothing
 * was stored (the run was finished already, or another attempt holds it).
 */
export async function endExhausted(d: ExhaustDeps, run: ClaimedRun, attempts: number): Promise<boolean> {
  const finished = await terminalEvent(d.db, run.id);
  if (finished) {
    // Finished before, but its row was not updated (the finish's outcome was lost): mend it.
    await settleFinishedRun(d.db, run.id, statusForTerminal[finished.event.type as TerminalType]);
    return false;
  }
  const ts = new Date().toISOString();
  const base = { runId: run.id, threadId: run.thread_id, ts };
  const error: RunEvent = {
    type: 'agent_error',
    ...base,
    seq: run.last_seq + 1,
    code: 'attempts_exhausted',
    message: exhaustedMessage(attempts),
    retryable: false,
  };
  const events: RunEvent[] =
    run.last_seq === 0 ? [{ type: 'agent_started', ...base, seq: 1, agent: run.agent, input: run.input }, { ...error, seq: 2 }] : [error];
  let next: Handoff | undefined;
  try {
    await d.db.transaction(async (tx) => {
      // The thread before the run, as in every transaction that locks both.
      const lock = await lockThread(tx, run.thread_id);
      for (const event of events) {
        await appendEvent(tx, { event, attempt: run.attempt, json: JSON.stringify(event), ...(event.type === 'agent_error' ? { finalStatus: 'failed' as const } : {}) });
      }
      next = await d.turns.promoteNext(lock);
    });
  } catch (err) {
    next?.abandoned();
    throw err;
  }
  next?.committed();
  const acceptedAt = new Date(run.created_at).getTime();
  for (const event of events) {
    d.telemetry?.eventStored(event, acceptedAt);
    try {
      d.bus.publish(run.user_id, { event, json: JSON.stringify(event) });
    } catch {
      // Delivery is repaired from the log.
    }
  }
  return true;
}
