// Who runs next, and where: the one owner of a thread's turn and of how a run reaches a worker.
// Accept, the answer to a question, a cancel, and every terminal transaction (an attempt's end,
// attempts exhausted, a waiting run's end) call it; nothing else queues a run, lends a slot of
// this node's worker, wakes workers or stops a run executing somewhere.
// - `prepare()`: how a run stored now reaches a worker (./handoff.ts): stored claimed by this
//   node's worker when it has a free slot, else queued (`queueInTx`) for any worker.
// - `promoteNext(lock)`: in a terminal transaction, hands the thread to its oldest waiting run.
// - `endRun(db, end, beforeCommit)`: an attempt's terminal write and the same hand-over, in one
//   statement when it can (store/run-end.ts), which carries the ends of other runs that arrived
//   meanwhile (store/end-batcher.ts).
// - `stop(runId, reason)`: stops a run wherever it executes (this node's worker, else a notification).
import type { Db, Queryable } from '../store/db.js';
import { StaleAttemptError } from '../store/event-log.js';
import { endBatcher } from '../store/end-batcher.js';
import { endRun, type RunEnd, type RunEndResult } from '../store/run-end.js';
import { promotePending } from '../store/run-status.js';
import { nextPendingRun } from '../store/runs.js';
import type { ThreadLock } from '../store/threads.js';
import { NO_HANDOFF, prepareHandoff, type Handoff, type PreparedHandoff, type RunSlot } from './handoff.js';
import type { Notifier } from './notifier.js';
import type { RunQueue } from './queue.js';

/** What the scheduler needs of this node's worker. */
export interface LocalWorker {
  /** A free slot, held while a run is stored claimed by this worker; undefined when all are taken. */
  reserve(): RunSlot | undefined;
  /** Fetch queued runs now. */
  wake(): void;
  /** Stops a run executing here; false when it does not execute here. */
  abort(runId: string, reason: string): boolean;
}

/** The thread's next turn, as a terminal transaction needs it (tests give `NO_TURNS`). */
export interface ThreadTurns {
  /**
   * Hands the thread to its oldest waiting run when no run holds it, in the transaction that
   * ended the previous run (which holds the thread's lock, so it sees what `accept` and cancels
   * committed, and they see what it commits). The caller calls `committed` or `abandoned` on the
   * result once its transaction ended (always, whether a run was promoted or not).
   */
  promoteNext(lock: ThreadLock): Promise<Handoff>;
  /**
   * Stores an attempt's terminal event (fenced: StaleAttemptError when another attempt holds the
   * run), its answer, and hands the thread to its oldest waiting run, all or nothing, as
   * `promoteNext` does in a transaction. `beforeCommit` is called once, when the write is built and
   * nothing of it is durable yet. The caller calls `committed` or `abandoned` on the result.
   */
  endRun(db: Db, end: RunEnd, beforeCommit: () => void): Promise<Handoff>;
}

/** No thread ever has a next run (tests that execute one run alone). */
export const NO_TURNS: ThreadTurns = {
  promoteNext: async () => NO_HANDOFF,
  endRun: async (db, end, beforeCommit) => {
    beforeCommit();
    const r = await endRun(db, end, { claim: undefined, mayQueue: false });
    if (r.outcome === 'stale') throw new StaleAttemptError(end.event.runId, end.attempt);
    if (r.outcome === 'queue') throw new Error('NO_TURNS: the thread has a waiting run, which these turns cannot hand over');
    return NO_HANDOFF;
  },
};

export class ThreadScheduler implements ThreadTurns {
  private worker: LocalWorker | undefined;

  constructor(
    private readonly queue: RunQueue,
    private readonly notifier: Pick<Notifier, 'publishQueued' | 'publishCancel'>,
  ) {}

  /** This node's worker, once it is built (never on a gateway): its slots are lent from then on. */
  useWorker(worker: LocalWorker): void {
    this.worker = worker;
  }

  /** How a run this transaction stores reaches a worker: its `lease` is set when a slot of this node's worker is held. */
  prepare(): PreparedHandoff {
    return prepareHandoff(this.worker?.reserve(), () => this.wakeWorkers());
  }

  /** Queues the run's job in the transaction that stores it (no slot was free): the job exists exactly when the queued run does. */
  queueInTx(tx: Queryable, runId: string): Promise<void> {
    return this.queue.sendInTx(tx, runId);
  }

  /**
   * Queues again a run that had a job before (an answered run that waited for its user): the old
   * job goes first, since pg-boss would drop a new job under the same id.
   */
  requeueInTx(tx: Queryable, runId: string): Promise<void> {
    return this.queue.resendInTx(tx, runId);
  }

  /** Removes the job of a run cancelled before a worker took it, in the cancelling transaction. */
  unqueueInTx(tx: Queryable, runId: string): Promise<void> {
    return this.queue.cancelInTx(tx, runId);
  }

  async promoteNext(lock: ThreadLock): Promise<Handoff> {
    const next = await nextPendingRun(lock.tx, lock.threadId);
    if (!next) return NO_HANDOFF;
    const handoff = this.prepare();
    try {
      const run = await promotePending(lock.tx, next.id, handoff.lease);
      if (run) {
        handoff.stored(run);
        if (!handoff.lease) await this.queueInTx(lock.tx, next.id);
      }
    } catch (err) {
      handoff.abandoned();
      throw err;
    }
    return handoff;
  }

  async endRun(db: Db, end: RunEnd, beforeCommit: () => void): Promise<Handoff> {
    // A free slot is lent before the statement: most threads have no waiting run (it is released
    // then), but one that has is handed it in the same statement, claimed, with no queue job.
    // The statement is shared with the ends that wait beside this one (group commit); it calls
    // `beforeCommit` when that statement is built, before it is sent.
    const handoff = this.prepare();
    try {
      let r: RunEndResult = await endBatcher(db).end(end, handoff.lease, beforeCommit);
      if (r.outcome === 'queue') {
        // No slot, and a run waits its turn: it is queued, and its job must be sent in the same
        // transaction (pg-boss's own statement). The statement wrote nothing of this end; it goes
        // again alone, in one.
        r = await db.transaction(async (tx) => {
          const again = await endRun(tx, end, { claim: undefined, mayQueue: true });
          if (again.outcome === 'ended' && again.next) await this.queueInTx(tx, again.next.id);
          return again;
        });
      }
      if (r.outcome === 'stale') throw new StaleAttemptError(end.event.runId, end.attempt);
      if (r.outcome === 'ended' && r.next) handoff.stored(r.next);
    } catch (err) {
      handoff.abandoned();
      throw err;
    }
    return handoff;
  }

  /** A run was queued: this node's worker fetches at once, the others are told. */
  wakeWorkers(): void {
    this.worker?.wake();
    this.notifier.publishQueued();
  }

  /** Stops a run wherever it executes: this node's worker at once, the others by notification. */
  stop(runId: string, reason: string): void {
    if (!this.worker?.abort(runId, reason)) this.notifier.publishCancel(runId, reason);
  }
}
