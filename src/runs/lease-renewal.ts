// Renewing the leases of the runs a worker executes, without holding up their writes. The renewal
// updates each held run's row; so does every append and every end of those runs. Measured with
// 2,000 runs streaming at once (bench scenario (c)): one statement renewing all of them held 2,000
// row locks while it waited for the appends in flight, every append of those runs then waited for
// it, and renewals started every leaseMs/3 piled up behind each other (three in flight, each 2 to
// 6 s): the runs' outputs queued for tens of seconds. So a renewal goes in chunks of at most
// RENEW_CHUNK runs, each its own short statement, in run-id order (every renewal locks rows in the
// same order); and a renewal still in flight when the next is due is not doubled: the next tick
// renews everything again. Runs whose end is being written are left out, each chunk checked just
// before it is sent: a batch of ends locks its runs in thread order (store/end-batcher.ts).
import type { Queryable } from '../store/db.js';
import { renewLeases } from '../store/leases.js';
import type { Lease } from '../store/run-status.js';

/** Most runs one renewal statement updates. */
export const RENEW_CHUNK = 100;

export interface HeldRun {
  runId: string;
  attempt: number;
}

export class LeaseRenewal {
  private running = false;

  constructor(
    private readonly db: Queryable,
    private readonly lease: Lease,
  ) {}

  /** A renewal is in flight: a tick now has nothing to add. */
  get busy(): boolean {
    return this.running;
  }

  /**
   * Renews `held`, a chunk at a time, except the runs `ending` names when their chunk is sent (they
   * are not checked either); `checked` gets each chunk with the runs still held among it
   * (and any cancel stored for them) as soon as that chunk is renewed. A failing chunk throws, and
   * the chunks after it are not renewed now (the next tick tries again). False when a renewal was
   * in flight already (nothing done).
   */
  async renew(
    held: readonly HeldRun[],
    ending: (runId: string) => boolean,
    checked: (chunk: readonly HeldRun[], kept: Map<string, string | null>) => void,
  ): Promise<boolean> {
    if (this.running) return false;
    this.running = true;
    try {
      const sorted = [...held].sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
      for (let i = 0; i < sorted.length; i += RENEW_CHUNK) {
        const chunk = sorted.slice(i, i + RENEW_CHUNK).filter((r) => !ending(r.runId));
        if (chunk.length === 0) continue;
        const rows = await renewLeases(this.db, this.lease, chunk);
        checked(chunk, new Map(rows.map((r) => [r.id, r.cancel_reason])));
      }
      return true;
    } finally {
      this.running = false;
    }
  }
}
