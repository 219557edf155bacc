// Grouped reads: reads that arrive while one is in flight go out together in the next statement,
// like the append batcher groups writes. When 1,000 sockets reconnect at once each sends `resume`
// and each cursor reads its run's log: 1,000 one-row statements queued on a pool of 10 were most
// of a socket's catch-up time (bench (e)). Alone, a read goes out at once (no added wait).
// A read is answered from the statement's rows for its own key only; a statement that fails
// fails every read it carried (each caller retries as it would after its own failed read).
import type { RunEvent } from '../protocol/events.js';
import type { Db, Queryable } from './db.js';
import { readEvents, type StoredEvent } from './event-log.js';
import { getRun, isUuid, RUN_COLUMNS, type RunRow } from './runs.js';
import { tokenState, tokenStates, type TokenState } from './users.js';

interface Pending<K, R> {
  key: K;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

export class ReadBatcher<K, R> {
  private waiting: Array<Pending<K, R>> = [];
  private inFlight = 0;

  constructor(
    /** Answers for `keys`, one per key and in their order. */
    private readonly readMany: (keys: readonly K[]) => Promise<R[]>,
    /** Statements in flight at once: a pool overlaps a few; PGlite has one connection. */
    private readonly maxInFlight: number,
    /** Most reads one statement carries; more wait for the next. */
    private readonly maxBatch: number,
  ) {}

  load(key: K): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ key, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight++;
      void this.read(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async read(batch: Array<Pending<K, R>>): Promise<void> {
    let answers: R[];
    try {
      answers = await this.readMany(batch.map((p) => p.key));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => p.resolve(answers[i]!));
  }
}

export interface EventRead {
  runId: string;
  afterSeq: number;
  limit: number;
}

// One row per event of every read, each read's own page: its run, after its seq, at most its
// limit (the LATERAL subquery is readEvents' statement per read, served by the primary key).
// The reads' ordinal tells the pages apart, so two reads of the same run get their own pages.
const EVENTS_SQL = `SELECT x.n::int AS n, e.body
  FROM unnest($1::uuid[], $2::int[], $3::int[]) WITH ORDINALITY AS x(run_id, after_seq, lim, n)
  CROSS JOIN LATERAL (
    SELECT body, seq FROM run_events WHERE run_id = x.run_id AND seq > x.after_seq ORDER BY seq LIMIT x.lim
  ) e
  ORDER BY x.n, e.seq`;

/** Each read's page (`seq > afterSeq`, in order, at most `limit`), in one statement. */
export async function readEventsMany(q: Queryable, reads: readonly EventRead[]): Promise<StoredEvent[][]> {
  const pages: StoredEvent[][] = reads.map(() => []);
  // An id that is not a UUID names nothing (and would fail the cast for every read).
  const sent = reads.map((r, i) => ({ r, i })).filter(({ r }) => isUuid(r.runId) && r.limit > 0);
  if (sent.length === 0) return pages;
  if (sent.length === 1) {
    const { r, i } = sent[0]!;
    pages[i] = await readEvents(q, r.runId, r.afterSeq, r.limit);
    return pages;
  }
  const rows = await q.query<{ n: number; body: RunEvent }>(EVENTS_SQL, [sent.map(({ r }) => r.runId), sent.map(({ r }) => r.afterSeq), sent.map(({ r }) => r.limit)]);
  for (const row of rows) pages[sent[row.n - 1]!.i]!.push({ event: row.body, json: JSON.stringify(row.body) });
  return pages;
}

/** Each id's run row (undefined where there is none), in one statement. */
export async function getRunsMany(q: Queryable, runIds: readonly string[]): Promise<Array<RunRow | undefined>> {
  const ids = [...new Set(runIds.filter(isUuid))];
  if (ids.length === 0) return runIds.map(() => undefined);
  if (ids.length === 1) {
    const run = await getRun(q, ids[0]!);
    return runIds.map((id) => (id === ids[0] ? run : undefined));
  }
  const rows = await q.query<RunRow & Record<string, unknown>>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ANY($1::uuid[])`, [ids]);
  // Keyed by the ids as sent: a UUID may arrive in upper case; PostgreSQL answers in lower case.
  const byId = new Map(rows.map((r) => [r.id.toLowerCase(), r]));
  return runIds.map((id) => (isUuid(id) ? byId.get(id.toLowerCase()) : undefined));
}

/** Most reads one statement carries: 100 pages of the pump's 256 events is 25,600 rows at most. */
const MAX_READS = 100;

/** Each user's token state (undefined where there is none), in one statement. */
export async function tokenStatesMany(q: Queryable, userIds: readonly string[]): Promise<Array<TokenState | undefined>> {
  if (userIds.length === 1) return [await tokenState(q, userIds[0]!)];
  const states = await tokenStates(q, [...new Set(userIds)]);
  const byId = new Map([...states].map(([id, st]) => [id.toLowerCase(), st]));
  return userIds.map((id) => byId.get(id.toLowerCase()));
}

export interface GroupedReads {
  events: ReadBatcher<EventRead, StoredEvent[]>;
  runs: ReadBatcher<string, RunRow | undefined>;
  /** The token check of each socket's upgrade (a burst of reconnects authenticates together). */
  tokens: ReadBatcher<string, TokenState | undefined>;
}

const grouped = new WeakMap<Db, GroupedReads>();

/** The grouped readers of `db` (one set per database handle, shared by every socket of the process). */
export function groupedReads(db: Db): GroupedReads {
  let g = grouped.get(db);
  if (!g) {
    const inFlight = db.kind === 'pg' ? 2 : 1;
    g = {
      events: new ReadBatcher((reads) => readEventsMany(db, reads), inFlight, MAX_READS),
      runs: new ReadBatcher((ids) => getRunsMany(db, ids), inFlight, MAX_READS),
      tokens: new ReadBatcher((ids) => tokenStatesMany(db, ids), inFlight, MAX_READS),
    };
    grouped.set(db, g);
  }
  return g;
}
