// The one backoff (src/time/backoff.ts): doubling ceilings, capped, with equal jitter; and its sleep.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffMs, sleep } from '../../../src/time/backoff.js';

describe('backoffMs', () => {
  it('the ceiling doubles per failure from baseMs and stops at maxMs', () => {
    const top = () => 1;
    expect([1, 2, 3, 4, 5, 6, 100, 10_000].map((n) => backoffMs(n, { baseMs: 100, maxMs: 1_000 }, top))).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  });

  it('property: every wait lies in the upper half of its ceiling, so none is immediate and none exceeds the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, noNaN: true }), (failures, baseMs, factor, r) => {
        const maxMs = baseMs * factor;
        const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(failures - 1, 0));
        const d = backoffMs(failures, { baseMs, maxMs }, () => r);
        expect(Number.isFinite(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(d).toBeLessThanOrEqual(Math.ceil(Math.min(ceiling, maxMs)));
      }),
    );
  });
});

describe('sleep', () => {
  it('rejects with the signal reason when aborted, before or during the wait', async () => {
    const before = AbortSignal.abort(new Error('gone'));
    await expect(sleep(60_000, before)).rejects.toThrow('gone');
    const c = new AbortController();
    const waiting = sleep(60_000, c.signal);
    c.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
  });
});
