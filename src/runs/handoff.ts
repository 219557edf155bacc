// How a run that a transaction made ready to execute reaches a worker. When this node's worker
// has a free slot, the run is stored already claimed by it (running, attempt 1, its lease) and
// starts once the transaction commits: no claim statement and no queue job. Otherwise it is
// queued with a pg-boss job, and the workers are woken once the transaction commits.
import type { ClaimedRun, Lease } from '../store/run-status.js';

/** A free slot of this node's worker, held while a run is stored claimed by it. */
export interface RunSlot {
  readonly lease: Lease;
  /** The run was stored (and committed) claimed by this worker: execute it. */
  start(run: ClaimedRun): void;
  /** Not used (the transaction failed, or no run needed it): free the slot. */
  release(): void;
}

/**
 * A run a transaction stored ready to execute: once the transaction commits, `committed` starts
 * it on this node's worker or wakes the workers; `abandoned` (the transaction rolled back) frees
 * the slot it held. Only the first call of either does anything.
 */
export interface Handoff {
  committed(): void;
  abandoned(): void;
}

/** A handoff being prepared: the lease to store the run with (a slot is held), then the run once stored. */
export interface PreparedHandoff extends Handoff {
  readonly lease: Lease | undefined;
  stored(run: ClaimedRun): void;
}

export const NO_HANDOFF: Handoff = { committed: () => undefined, abandoned: () => undefined };

export function prepareHandoff(slot: RunSlot | undefined, wakeWorkers: () => void): PreparedHandoff {
  let run: ClaimedRun | undefined;
  let done = false;
  return {
    lease: slot?.lease,
    stored: (r) => (run = r),
    committed: () => {
      if (done) return;
      done = true;
      if (!run) slot?.release();
      else if (slot) slot.start(run);
      else wakeWorkers();
    },
    abandoned: () => {
      if (done) return;
      done = true;
      slot?.release();
    },
  };
}
