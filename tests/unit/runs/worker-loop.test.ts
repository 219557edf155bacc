// RunWorker's backlog loop (src/runs/worker.ts): how often it asks the queue for runs and for how
// many. The queue's answers are scripted here (nothing is queued, or the fetch fails), so no run is
// spawned; the poll interval is advanced with fake timers, not waited. Which runs a fetch claims,
// and running them, is tested against real databases (tests/integration/queue.test.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../../src/log/logger.js';
import type { RunQueue } from '../../../src/runs/queue.js';
import { RunWorker } from '../../../src/runs/worker.js';
import type { Db } from '../../../src/store/db.js';

const POLL_MS = 2_000;

function worker(answer: () => Promise<unknown[]> = async () => []) {
  const takes: number[] = [];
  const warnings: string[] = [];
  const queue = {
    take: async (room: number) => {
      takes.push(room);
      return answer();
    },
  } as unknown as RunQueue;
  // The takeover scan and lease renewal read no rows: no lapsed runs, nothing held.
  const db = { query: async () => [] } as unknown as Db;
  const log = { warn: (_o: unknown, m: string) => warnings.push(m), info: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
  const w = new RunWorker(db, queue, { publish: () => undefined }, {} as never, log, {
    concurrency: 4,
    pollIntervalMs: POLL_MS,
    nodeId: 'n1',
    leaseMs: 60_000,
    maxAttempts: 5,
    retryDelayMs: 1_000,
  });
  return { w, takes, warnings };
}

describe('RunWorker backlog loop', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks for as many runs as it has free slots at start, then only once per poll interval while the queue is empty', async () => {
    const { w, takes } = worker();
    w.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(takes).toEqual([4]);
    await vi.advanceTimersByTimeAsync(POLL_MS - 1);
    expect(takes).toEqual([4]);
    await vi.advanceTimersByTimeAsync(1);
    expect(takes).toEqual([4, 4]);
    await w.stop();
  });

  it('a wake fetches at once, not at the next poll; wakes while a fetch is out cost one more fetch, not one each', async () => {
    let release!: () => void;
    let first = true;
    const { w, takes } = worker(() => (first ? ((first = false), new Promise<unknown[]>((r) => (release = () => r([])))) : Promise.resolve([])));
    w.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(takes).toHaveLength(1);
    w.wake();
    w.wake();
    w.wake();
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(takes).toHaveLength(2);
    w.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(takes).toHaveLength(3);
    await w.stop();
  });

  it('a failing fetch is retried at the next poll, not in a hot loop, and logged once', async () => {
    const { w, takes, warnings } = worker(() => Promise.reject(new Error('database unreachable')));
    w.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(takes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(POLL_MS * 3);
    expect(takes).toHaveLength(4);
    expect(warnings.filter((m) => m === 'fetching queued runs failed')).toHaveLength(1);
    await w.stop();
  });

  it('slots lent to a transaction are not offered to the queue; a slot given back with work waiting fetches at once', async () => {
    const { w, takes } = worker(() => Promise.reject(new Error('unreachable'))); // a failed fetch leaves a backlog
    w.start();
    await vi.advanceTimersByTimeAsync(0);
    const slot = w.reserve()!;
    const other = w.reserve()!;
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(takes).toEqual([4, 2]);
    slot.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(takes).toEqual([4, 2, 3]);
    other.release();
    await w.stop();
  });

  it('after stop it asks no more', async () => {
    const { w, takes } = worker();
    w.start();
    await vi.advanceTimersByTimeAsync(0);
    await w.stop();
    w.wake();
    await vi.advanceTimersByTimeAsync(POLL_MS * 5);
    expect(takes).toEqual([4]);
  });
});
