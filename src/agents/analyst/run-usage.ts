// One read of the caller's usage records per run. The analyst's tools each read them (the summary
// the whole history, the projection the period the summary found, which is the whole history
// too): one read serves both, and the run's figures come from one snapshot of the records, so
// the summary and the projection cannot disagree because an upload landed between them.
import { inRange } from './aggregate.js';
import type { UsageReader, UsageRecord } from '../../usage/types.js';

/** The reader's own cap (store/usage.ts): a history this long may be cut, so ranges are read as asked. */
const READ_CAP = 100_000;
/** Runs remembered at once; the oldest is forgotten first (a run's tools run within seconds). */
const MAX_RUNS = 1_000;

const byRun = new Map<string, Promise<UsageRecord[]>>();

/** `reader` for one run: its first read takes the whole history, later reads are cut from it. */
export function perRunUsage(reader: UsageReader, userId: string, runId: string): UsageReader {
  const key = `${userId} ${runId}`;
  return {
    async list(range = {}) {
      let all = byRun.get(key);
      if (!all) {
        all = reader.list();
        byRun.set(key, all);
        if (byRun.size > MAX_RUNS) byRun.delete(byRun.keys().next().value as string);
        // A failed read is not remembered: the next call reads again.
        all.catch(() => byRun.get(key) === all && byRun.delete(key));
      }
      const records = await all;
      if (records.length >= READ_CAP) return reader.list(range);
      return range.from || range.to ? inRange(records, range.from, range.to) : records;
    },
  };
}
