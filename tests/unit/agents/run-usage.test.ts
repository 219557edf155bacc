// The analyst's per-run snapshot of usage records: one read per run, and nothing kept for long.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { keptSnapshots, perRunUsage, RECORD_BUDGET, SNAPSHOT_TTL_MS } from '../../../src/agents/analyst/run-usage.js';
import { sampleUsage } from '../../../src/usage/sample.js';
import type { UsageReader, UsageRecord } from '../../../src/usage/types.js';

const records = sampleUsage('u1', new Date('2026-11-30T00:00:00Z'));
let runs = 0;
const newRun = () => `run-${++runs}`;

function countingReader(answer: () => Promise<UsageRecord[]>): UsageReader & { reads: number } {
  const r = {
    reads: 0,
    list() {
      r.reads++;
      return answer();
    },
  };
  return r;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('perRunUsage', () => {
  it("reads the records once per run, and serves a range from that read; another run reads its own", async () => {
    const reader = countingReader(() => Promise.resolve(records));
    const run = newRun();
    const a = perRunUsage(reader, 'u1', run);
    expect(await a.list()).toHaveLength(records.length);
    const days = [...new Set(records.map((r) => r.day))].sort();
    const from = days[Math.floor(days.length / 2)]!;
    const part = await perRunUsage(reader, 'u1', run).list({ from });
    expect(part.length).toBeGreaterThan(0);
    expect(part.length).toBeLessThan(records.length);
    expect(reader.reads).toBe(1);
    await perRunUsage(reader, 'u1', newRun()).list();
    expect(reader.reads).toBe(2);
  });

  it('does not remember a failed read: the next call reads again', async () => {
    let fail = true;
    const reader = countingReader(() => (fail ? Promise.reject(new Error('database down')) : Promise.resolve(records)));
    const run = newRun();
    await expect(perRunUsage(reader, 'u1', run).list()).rejects.toThrow('database down');
    fail = false;
    expect(await perRunUsage(reader, 'u1', run).list()).toHaveLength(records.length);
    expect(reader.reads).toBe(2);
  });

  it('forgets a run’s snapshot once its time is up, and reads again after', async () => {
    vi.useFakeTimers();
    const reader = countingReader(() => Promise.resolve(records));
    const run = newRun();
    const before = keptSnapshots().runs;
    await perRunUsage(reader, 'u1', run).list();
    expect(keptSnapshots().runs).toBe(before + 1);
    await vi.advanceTimersByTimeAsync(SNAPSHOT_TTL_MS);
    expect(keptSnapshots().runs).toBe(before);
    await perRunUsage(reader, 'u1', run).list();
    expect(reader.reads).toBe(2);
  });

  it('keeps at most its record budget: the oldest snapshot goes first', async () => {
    // Three snapshots of 45 % of the budget each (each under the reader's cap of 100,000).
    const big = new Array<UsageRecord>(Math.ceil(RECORD_BUDGET * 0.45)).fill(records[0]!);
    const reader = countingReader(() => Promise.resolve(big));
    const first = newRun();
    await perRunUsage(reader, 'u1', first).list();
    await perRunUsage(reader, 'u1', newRun()).list();
    await perRunUsage(reader, 'u1', newRun()).list();
    expect(keptSnapshots().records).toBeLessThanOrEqual(RECORD_BUDGET);
    await perRunUsage(reader, 'u1', first).list();
    expect(reader.reads).toBe(4);
  });
});
