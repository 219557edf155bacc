// Group commit for the event log: appends that arrive while a write is in flight are stored
// together by the next one, in one statement and one commit, whatever runs they belong to. Under
// load a write carries dozens of runs' events; alone, an append goes out at once (no added wait).
// A run may hand over several of its consecutive events at once (`appendRun`): they are stored
// together or not at all, so a run's seqs stay gapless and in order.
// The guarantees are appendEvent's, per run: every row is fenced by its run's attempt and the
// run's events must follow `last_seq` without a gap; a run whose events fail their fence is
// refused alone (StaleAttemptError) while the other runs of the batch are stored.
import type { RunEvent } from '../protocol/events.js';
import type { Db } from './db.js';
import { appendEvent, StaleAttemptError } from './event-log.js';
import { crashPoint } from '../runs/crash-points.js';

export interface AppendRecord {
  event: RunEvent;
  attempt: number;
  json: string;
}

/** One run's consecutive events (seq n, n+1, …) of one attempt, stored all or none. */
interface Pending {
  records: readonly AppendRecord[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

// Each (run, attempt) of the batch moves `last_seq` once, from its first seq - 1 to its last, and
// only if its seqs are contiguous; its rows are inserted only if that update matched. (An UPDATE
// joined to several rows of the same run would apply only one of them, hence the grouping.)
//
// The events travel as ONE jsonb array, built by joining the texts the recorder serialised already
// (each is a JSON object holding its runId, seq and type), and the attempts as an int array beside
// it: a text[] of bodies made the pg client escape every character of every body into an array
// literal (4.6 % of the analyst's main-thread time in bench:profile).
const BATCH_SQL = `WITH i AS (
    SELECT (e->>'runId')::uuid AS run_id, (e->>'seq')::int AS seq, a.attempt, e->>'type' AS type, e AS body
    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n)
    JOIN unnest($2::int[]) WITH ORDINALITY AS a(attempt, n) USING (n)
  ), g AS (
    SELECT run_id, attempt, min(seq) AS first_seq, max(seq) AS last_seq, count(*) AS n FROM i GROUP BY run_id, attempt
  ), r AS (
    UPDATE runs SET last_seq = g.last_seq, updated_at = now()
    FROM g WHERE runs.id = g.run_id AND runs.attempt = g.attempt AND runs.last_seq = g.first_seq - 1
      AND g.last_seq - g.first_seq + 1 = g.n
    RETURNING runs.id, runs.attempt
  )
  INSERT INTO run_events (run_id, seq, type, body)
  SELECT i.run_id, i.seq, i.type, i.body FROM i JOIN r ON r.id = i.run_id AND r.attempt = i.attempt
  RETURNING run_id, seq`;

/** Most rows one statement carries; more wait for the next write. */
const MAX_BATCH = 500;

export class AppendBatcher {
  private waiting: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly db: Db,
    /** Writes in flight at once: a pool overlaps a few; PGlite has one connection. */
    private readonly maxInFlight = db.kind === 'pg' ? 2 : 1,
  ) {}

  /**
   * Stores one run's consecutive events (one attempt's, seqs without a gap) in the same write:
   * all of them, or none (StaleAttemptError). The caller must not hand over the run's next events
   * before this settles: two writes in flight could reach the database in either order.
   */
  appendRun(records: readonly AppendRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ records, resolve, reject });
      this.pump();
    });
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

  /** The next batch: whole runs' groups, up to MAX_BATCH rows (a larger group goes alone). */
  private take(): Pending[] {
    let rows = 0;
    let n = 0;
    for (const p of this.waiting) {
      if (n > 0 && rows + p.records.length > MAX_BATCH) break;
      rows += p.records.length;
      n++;
    }
    return this.waiting.splice(0, n);
  }

  private async write(batch: Pending[]): Promise<void> {
    crashPoint('append.before');
    if (batch.length === 1 && batch[0]!.records.length === 1) {
      const p = batch[0]!;
      await appendEvent(this.db, p.records[0]!).then(() => {
        crashPoint('append.after');
        p.resolve();
      }, p.reject);
      return;
    }
    let stored: Set<string>;
    try {
      stored = await this.store(batch.flatMap((p) => p.records));
    } catch {
      // One statement failed for all: store each run's group alone, so each gets its own outcome
      // (an unreachable database fails them all, and their recorders retry).
      await Promise.all(batch.map((p) => this.writeAlone(p)));
      return;
    }
    crashPoint('append.after');
    for (const p of batch) settle(p, stored);
  }

  private async writeAlone(p: Pending): Promise<void> {
    if (p.records.length === 1) return appendEvent(this.db, p.records[0]!).then(p.resolve, p.reject);
    try {
      settle(p, await this.store(p.records));
    } catch (err) {
      p.reject(err);
    }
  }

  /** Stores what passes its fence; returns the `run:seq` of every row stored. */
  private async store(records: readonly AppendRecord[]): Promise<Set<string>> {
    const rows = await this.db.query<{ run_id: string; seq: number }>(BATCH_SQL, [`[${records.map((r) => r.json).join(',')}]`, records.map((r) => r.attempt)]);
    return new Set(rows.map((r) => `${r.run_id}:${r.seq}`));
  }
}

/** A group is stored whole or refused whole (the statement moves its run's last_seq once, or not). */
function settle(p: Pending, stored: Set<string>): void {
  const first = p.records[0]!;
  if (p.records.every((r) => stored.has(`${r.event.runId}:${r.event.seq}`))) p.resolve();
  else p.reject(new StaleAttemptError(first.event.runId, first.attempt));
}

const batchers = new WeakMap<Db, AppendBatcher>();

/** The batcher of `db` (one per database handle, shared by every run of the process). */
export function appendBatcher(db: Db): AppendBatcher {
  let b = batchers.get(db);
  if (!b) {
    b = new AppendBatcher(db);
    batchers.set(db, b);
  }
  return b;
}
