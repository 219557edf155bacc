// Group commit for runs' ends, as ./append-batcher.ts is for appends: the ends that arrive while
// an end write is in flight are stored together by the next one, in one statement and one commit
// (`aw_end_run` of migration 0009 called once per end, over arrays). Under load the ends of many
// runs arrive together; alone, an end goes out at once (no added wait), as the same statement it
// always was. Each end keeps its own outcome ('stale', 'queue', 'ended' with its next run): a row
// that fails its fence is refused alone while the others of the batch are stored.
import type { Db } from './db.js';
import { endRun, type EndRow, type RunEnd, type RunEndResult, endParams, endResult } from './run-end.js';
import type { Lease } from './run-status.js';

interface Pending {
  end: RunEnd;
  claim: Lease | undefined;
  /** Called once, when the write that carries this end is built and not yet sent. */
  beforeSend: () => void;
  resolve: (r: RunEndResult) => void;
  reject: (err: unknown) => void;
}

// One call of aw_end_run per element, in the arrays' order (the function scan of unnest feeds the
// nested loop of the lateral join row by row): each call takes its thread's lock, then its run's
// row, then the run it promotes, so the statement locks threads in the order of the arrays. Each
// call is a plpgsql function, whose statements read a new snapshot each (migration 0009 says why).
const BATCH_SQL = `SELECT i.ord, r.* FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[],
    $8::uuid[], $9::text[], $10::text[], $11::int[]) WITH ORDINALITY
    AS i(run_id, thread_id, seq, attempt, type, body, status, message_id, answer, owner, lease_ms, ord)
  CROSS JOIN LATERAL aw_end_run(i.run_id, i.thread_id, i.seq, i.attempt, i.type, i.body::jsonb, i.status, i.message_id,
    i.answer, i.owner, i.lease_ms, false) r`;

/** Most ends one statement carries; more wait for the next write. */
const MAX_BATCH = 200;

export class EndBatcher {
  private waiting: Pending[] = [];
  private inFlight = 0;
  /** Runs whose end is waiting or being written (see `ending`). */
  private readonly endingRuns = new Set<string>();

  constructor(
    private readonly db: Db,
    /** Writes in flight at once: a pool overlaps a few; PGlite has one connection. */
    private readonly maxInFlight = db.kind === 'pg' ? 2 : 1,
  ) {}

  /**
   * A run's end, as `endRun(db, end, { claim, mayQueue: false })`, stored with the ends that wait
   * beside it. `beforeSend` is called once, when the statement that carries it is built and not
   * yet sent (nothing of the end durable); if it throws, this end is left out and rejected.
   */
  end(end: RunEnd, claim: Lease | undefined, beforeSend: () => void): Promise<RunEndResult> {
    const runId = end.event.runId;
    this.endingRuns.add(runId);
    return new Promise<RunEndResult>((resolve, reject) => {
      this.waiting.push({ end, claim, beforeSend, resolve, reject });
      this.pump();
    }).finally(() => this.endingRuns.delete(runId));
  }

  /**
   * Whether the run's end is waiting or being written here. The worker's lease renewal leaves such
   * runs out: a renewal locks many running runs' rows in run-id order, a batch of ends locks its
   * runs' rows in thread order, and the two sharing two runs could wait for each other (PostgreSQL
   * would abort one after deadlock_timeout). A run that is ending needs no longer lease.
   */
  ending(runId: string): boolean {
    return this.endingRuns.has(runId);
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.take();
      this.inFlight++;
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /**
   * The next batch, up to MAX_BATCH ends, one per thread: a second end of a thread already in the
   * batch waits for the next write, so no call of the statement depends on what an earlier call of
   * the same statement wrote to the same thread (whether its run still holds the thread).
   */
  private take(): Pending[] {
    const threads = new Set<string>();
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    for (const p of this.waiting) {
      if (batch.length < MAX_BATCH && !threads.has(p.end.event.threadId)) {
        threads.add(p.end.event.threadId);
        batch.push(p);
      } else rest.push(p);
    }
    this.waiting = rest;
    return batch;
  }

  private async write(all: Pending[]): Promise<void> {
    const batch = all.filter((p) => {
      try {
        p.beforeSend();
        return true;
      } catch (err) {
        p.reject(err);
        return false;
      }
    });
    if (batch.length === 0) return;
    if (batch.length === 1) return this.writeAlone(batch[0]!);
    // Sorted by thread, then run: every writer (this process's other write in flight, another
    // process on the same PostgreSQL) takes the threads of its batch in the same order, so two
    // batches that share threads wait for each other at most once, never in a cycle. Within a
    // thread the function keeps the lock order of every transaction: the thread, then its runs.
    batch.sort((a, b) => compare(a.end.event.threadId, b.end.event.threadId) || compare(a.end.event.runId, b.end.event.runId));
    let rows: (EndRow & { ord: number })[];
    try {
      rows = await this.db.query<EndRow & { ord: number }>(BATCH_SQL, columns(batch));
    } catch {
      // One statement failed for all (a row's constraint, a deadlock with a writer outside this
      // order, the database unreachable): each end alone, so each gets its own outcome or error.
      await Promise.all(batch.map((p) => this.writeAlone(p)));
      return;
    }
    const byOrd = new Map(rows.map((r) => [Number(r.ord), r]));
    for (const [i, p] of batch.entries()) {
      const row = byOrd.get(i + 1);
      if (!row) p.reject(new Error(`aw_end_run returned nothing for run ${p.end.event.runId}`));
      else {
        const { ord: _, ...r } = row;
        p.resolve(endResult(r));
      }
    }
  }

  private writeAlone(p: Pending): Promise<void> {
    return endRun(this.db, p.end, { claim: p.claim, mayQueue: false }).then(p.resolve, p.reject);
  }
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The batch as the statement's arrays, one element per end (endRun's parameters, transposed). */
function columns(batch: readonly Pending[]): unknown[][] {
  const params = batch.map((p) => endParams(p.end, { claim: p.claim, mayQueue: false }));
  return Array.from({ length: 11 }, (_, k) => params.map((row) => row[k]));
}

const batchers = new WeakMap<Db, EndBatcher>();

/** The end batcher of `db` (one per database handle, shared by every run of the process). */
export function endBatcher(db: Db): EndBatcher {
  let b = batchers.get(db);
  if (!b) {
    b = new EndBatcher(db);
    batchers.set(db, b);
  }
  return b;
}
