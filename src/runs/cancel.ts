// The one path of a cancel (`cancel_run`, and a newer request with onBusy "interrupt"). Where the
// run is decides who stores its `agent_cancelled`:
// - not started (pending or queued, nothing stored): here, with its `agent_started`, in one
//   transaction that removes its job and passes the thread on;
// - waiting for its user (parked, no worker): here too, through ./waits.ts;
// - claimed or running: the cancel is remembered in the run's row, and the scheduler stops the
//   run where it executes; the worker's attempt stores the terminal event (./attempt.ts). A worker
//   that missed the notification learns it when it renews its lease, and one that claims the run
//   later (or after a crash) honours it at once.
import type { RunEvent } from '../protocol/events.js';
import type { Db } from '../store/db.js';
import { appendUnstartedTerminal, requestCancel } from '../store/run-status.js';
import type { RunRow } from '../store/runs.js';
import { lockThread } from '../store/threads.js';
import type { Telemetry } from '../telemetry/index.js';
import type { RunEventBus } from './bus.js';
import { crashPoint } from './crash-points.js';
import type { Handoff } from './handoff.js';
import type { ThreadScheduler } from './scheduler.js';
import type { Waits } from './waits.js';

export interface CancelDeps {
  db: Db;
  bus: RunEventBus;
  scheduler: ThreadScheduler;
  waits: Waits;
  telemetry?: Telemetry | undefined;
}

/** Rolls back a transaction that found nothing to do (a worker claimed the run meanwhile). */
class NothingToDo extends Error {}

export async function cancelRun(d: CancelDeps, run: RunRow, reason: string): Promise<void> {
  if (run.last_seq === 0 && (run.status === 'pending' || run.status === 'queued')) {
    if (await cancelUnstarted(d, run, reason)) return;
    // A worker claimed it meanwhile: cancel it as a running run.
  }
  // A run waiting for its user has no worker to tell: its end is stored here.
  if (run.status === 'waiting' && (await d.waits.cancel(run, reason))) return;
  // A run that parked meanwhile (it asked its user) is not updated: it is cancelled as a waiting run.
  if (!(await requestCancel(d.db, run.id, reason))) {
    await d.waits.cancel(run, reason);
    return;
  }
  crashPoint('cancel.recorded');
  d.scheduler.stop(run.id, reason);
}

/** Stores the whole (two-event) life of a run that never started, and passes the thread on; false when a worker claimed it first. */
async function cancelUnstarted(d: CancelDeps, run: RunRow, reason: string): Promise<boolean> {
  const ts = new Date().toISOString();
  const base = { runId: run.id, threadId: run.thread_id, ts };
  const events: [RunEvent, RunEvent] = [
    { type: 'agent_started', ...base, seq: 1, agent: run.agent, input: run.input },
    { type: 'agent_cancelled', ...base, seq: 2, reason },
  ];
  let next: Handoff | undefined;
  try {
    await d.db.transaction(async (tx) => {
      next?.abandoned(); // a retried transaction: the earlier one rolled back
      // The thread, then the run's job, then the run: the order of every transaction here.
      const lock = await lockThread(tx, run.thread_id);
      await d.scheduler.unqueueInTx(tx, run.id);
      if (!(await appendUnstartedTerminal(tx, events, 'cancelled'))) throw new NothingToDo();
      next = await d.scheduler.promoteNext(lock);
    });
  } catch (err) {
    next?.abandoned();
    if (!(err instanceof NothingToDo)) throw err;
    return false;
  }
  crashPoint('cancel.unstarted');
  const acceptedAt = new Date(run.created_at).getTime();
  for (const e of events) {
    d.telemetry?.eventStored(e, acceptedAt);
    d.bus.publish(run.user_id, { event: e, json: JSON.stringify(e) });
  }
  next?.committed();
  return true;
}
