// LeaseRenewal (src/runs/lease-renewal.ts): how a worker's lease renewal is cut into statements and
// kept from overlapping. The statements' answers are scripted here; renewLeases itself (which rows
// it extends, fenced by owner and attempt) is tested on real databases in tests/integration/store.test.ts.
import { describe, expect, it } from 'vitest';
import { LeaseRenewal, RENEW_CHUNK, type HeldRun } from '../../../src/runs/lease-renewal.js';
import type { Queryable } from '../../../src/store/db.js';

const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** A database that records each renewal's runs and answers them all still held, unless told otherwise. */
function db(answer: (runs: HeldRun[], n: number) => Promise<Array<{ id: string; cancel_reason: string | null }>> = async (runs) => runs.map((r) => ({ id: r.runId, cancel_reason: null }))) {
  const statements: HeldRun[][] = [];
  const q = {
    query: async (_sql: string, params: unknown[]) => {
      const ids = params[2] as string[];
      const runs = ids.map((runId, i) => ({ runId, attempt: (params[3] as number[])[i]! }));
      statements.push(runs);
      return answer(runs, statements.length);
    },
  } as unknown as Queryable;
  return { q, statements };
}

const lease = { owner: 'n1', ms: 5_000 };

describe('LeaseRenewal', () => {
  it('renews in statements of at most RENEW_CHUNK runs, every run once, in run-id order', async () => {
    const { q, statements } = db();
    const held = Array.from({ length: 2 * RENEW_CHUNK + 50 }, (_, i) => ({ runId: id((i * 7919) % 1000), attempt: 1 }));
    const checked: string[] = [];
    expect(await new LeaseRenewal(q, lease).renew(held, () => false, (chunk, kept) => chunk.forEach((r) => kept.has(r.runId) && checked.push(r.runId)))).toBe(true);
    expect(statements.map((s) => s.length)).toEqual([RENEW_CHUNK, RENEW_CHUNK, 50]);
    const sent = statements.flat().map((r) => r.runId);
    expect(sent).toEqual([...held.map((r) => r.runId)].sort());
    expect(checked).toEqual(sent);
  });

  it('leaves out the runs whose end is being written when their chunk is sent, and does not check them', async () => {
    const { q, statements } = db();
    const held = Array.from({ length: RENEW_CHUNK + 10 }, (_, i) => ({ runId: id(i), attempt: 1 }));
    const ending = new Set([id(0), id(RENEW_CHUNK + 5)]);
    const checked: string[] = [];
    // A run whose end starts while the first chunk is out is left out of the second.
    const renewal = new LeaseRenewal(q, lease);
    await renewal.renew(held, (runId) => ending.has(runId), (chunk) => {
      checked.push(...chunk.map((r) => r.runId));
      ending.add(id(RENEW_CHUNK + 1));
    });
    const sent = statements.flat().map((r) => r.runId);
    expect(sent).not.toContain(id(0));
    expect(sent).not.toContain(id(RENEW_CHUNK + 5));
    expect(sent).not.toContain(id(RENEW_CHUNK + 1));
    expect(sent).toHaveLength(held.length - 3);
    expect(checked).toEqual(sent);
  });

  it('does not start a renewal while one is in flight', async () => {
    let release!: () => void;
    const { q, statements } = db((runs, n) =>
      n === 1 ? new Promise((r) => (release = () => r(runs.map((x) => ({ id: x.runId, cancel_reason: null }))))) : Promise.resolve([]),
    );
    const renewal = new LeaseRenewal(q, lease);
    const held = [{ runId: id(1), attempt: 1 }];
    const first = renewal.renew(held, () => false, () => undefined);
    expect(renewal.busy).toBe(true);
    expect(await renewal.renew(held, () => false, () => undefined)).toBe(false);
    expect(statements).toHaveLength(1);
    release();
    expect(await first).toBe(true);
    expect(renewal.busy).toBe(false);
    expect(await renewal.renew(held, () => false, () => undefined)).toBe(true);
    expect(statements).toHaveLength(2);
  });

  it('a failing chunk throws and renews nothing after it; the chunks before it were checked', async () => {
    const { q, statements } = db(async (runs, n) => {
      if (n === 2) throw new Error('connection lost');
      return runs.map((r) => ({ id: r.runId, cancel_reason: null }));
    });
    const renewal = new LeaseRenewal(q, lease);
    const held = Array.from({ length: 3 * RENEW_CHUNK }, (_, i) => ({ runId: id(i), attempt: 1 }));
    const chunks: number[] = [];
    await expect(renewal.renew(held, () => false, (chunk) => chunks.push(chunk.length))).rejects.toThrow('connection lost');
    expect(statements).toHaveLength(2);
    expect(chunks).toEqual([RENEW_CHUNK]);
    expect(renewal.busy).toBe(false);
  });
});
