// One read of the caller's usage records per run. The analyst's tools each read them (the summary
// the whole history, the projection the period the summary found, which is the whole history
// too): one read serves both, and the run's figures come from one snapshot of the records, so
// the summary and the projection cannot disagree because an upload landed between them.
// The tools get a new context per call, so the snapshot is kept here, by run, and only briefly:
// a run's tools run within seconds, and a finished run's records must not stay in memory.
import { inRange } from './aggregate.js';
import type { UsageReader, UsageRecord } from '../../usage/types.js';

/** The reader's own cap (store/usage.ts): a history this long may be cut, so ranges are read as asked. */
const READ_CAP = 100_000;
/** How long a run's snapshot is kept after its first read. */
export const SNAPSHOT_TTL_MS = 30_000;
/** Records kept in all snapshots at once; the oldest snapshots are forgotten first. */
export const RECORD_BUDGET = 200_000;

interface Snapshot {
  records: Promise<UsageRecord[]>;
  size: number;
  timer: NodeJS.Timeout;
}

const byRun = new Map<string, Snapshot>();
let kept = 0;

function forget(key: string, s: Snapshot): void {
  if (byRun.get(key) !== s) return;
  byRun.delete(key);
  clearTimeout(s.timer);
  kept -= s.size;
}

function remember(key: string, reader: UsageReader): Snapshot {
  const s: Snapshot = { records: reader.list(), size: 0, timer: setTimeout(() => forget(key, s), SNAPSHOT_TTL_MS).unref() };
  byRun.set(key, s);
  s.records.then(
    (records) => {
      if (byRun.get(key) !== s) return;
      s.size = records.length;
      kept += s.size;
      for (const [k, old] of byRun) {
        if (kept <= RECORD_BUDGET || old === s) break;
        forget(k, old);
      }
    },
    // A failed read is not remembered: the next call reads again.
    () => forget(key, s),
  );
  return s;
}

/** `reader` for one run: its first read takes the whole history, later reads are cut from it. */
export function perRunUsage(reader: UsageReader, userId: string, runId: string): UsageReader {
  const key = `${userId} ${runId}`;
  return {
    async list(range = {}) {
      const records = await (byRun.get(key) ?? remember(key, reader)).records;
      if (records.length >= READ_CAP) return reader.list(range);
      return range.from || range.to ? inRange(records, range.from, range.to) : records;
    },
  };
}

/** Snapshots kept now (for tests). */
export function keptSnapshots(): { runs: number; records: number } {
  return { runs: byRun.size, records: kept };
}
