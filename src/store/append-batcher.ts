// Group commit for the event log: appends that arrive while a write is in flight are stored
// together by the next one, in one statement and one commit, whatever runs they belong to. Under
// load a write carries dozens of runs' events; alone, an append goes out at once (no added wait).
// The guarantees are appendEvent's, per event: each row is fenced by its run's attempt and by
// `last_seq = seq - 1`, and an event that fails its fence is refused alone (StaleAttemptError)
// while the others of its batch are stored.
import type { RunEvent } from '../protocol/events.js';
import type { Db } from './db.js';
import { appendEvent, StaleAttemptError } from './event-log.js';
import { crashPoint } from '../runs/crash-points.js';

export interface AppendRecord {
  event: RunEvent;
  attempt: number;
  json: string;
}

interface Pending extends AppendRecord {
  resolve: () => void;
  reject: (err: unknown) => void;
}

const BATCH_SQL = `WITH i AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[]) AS i(run_id, seq, attempt, type, body)
  ), r AS (
    UPDATE runs SET last_seq = i.seq, updated_at = now()
    FROM i WHERE runs.id = i.run_id AND runs.attempt = i.attempt AND runs.last_seq = i.seq - 1
    RETURNING runs.id, runs.last_seq, runs.attempt
  )
  INSERT INTO run_events (run_id, seq, type, body)
  SELECT i.run_id, i.seq, i.type, i.body::jsonb FROM i JOIN r ON r.id = i.run_id AND r.last_seq = i.seq AND r.attempt = i.attempt
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

  append(record: AppendRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ ...record, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      this.inFlight++;
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    crashPoint('append.before');
    if (batch.length === 1) {
      const [p] = batch as [Pending];
      await appendEvent(this.db, p).then(() => {
        crashPoint('append.after');
        p.resolve();
      }, p.reject);
      return;
    }
    let stored: Array<{ run_id: string; seq: number }>;
    try {
      stored = await this.db.query<{ run_id: string; seq: number }>(BATCH_SQL, [
        batch.map((p) => p.event.runId),
        batch.map((p) => p.event.seq),
        batch.map((p) => p.attempt),
        batch.map((p) => p.event.type),
        batch.map((p) => p.json),
      ]);
    } catch {
      // One statement failed for all: store each alone, so each gets its own outcome (an
      // unreachable database fails them all, and their recorders retry).
      await Promise.all(batch.map((p) => appendEvent(this.db, p).then(p.resolve, p.reject)));
      return;
    }
    crashPoint('append.after');
    const ok = new Set(stored.map((r) => `${r.run_id}:${r.seq}`));
    for (const p of batch) {
      if (ok.has(`${p.event.runId}:${p.event.seq}`)) p.resolve();
      else p.reject(new StaleAttemptError(p.event.runId, p.attempt));
    }
  }
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
