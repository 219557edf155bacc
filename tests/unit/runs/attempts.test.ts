// The wait before a failed run is tried again: doubling per failed attempt, capped, half random.
import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../../src/runs/attempts.js';

describe('retryDelayMs', () => {
  it('doubles per failed attempt from the base, up to 64 times it', () => {
    const top = () => 1; // the random half at its largest
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => retryDelayMs(n, 100, top))).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 6400, 6400]);
  });

  it('keeps at least half of the delay and draws the rest at random', () => {
    expect(retryDelayMs(3, 100, () => 0)).toBe(200);
    expect(retryDelayMs(3, 100, () => 0.5)).toBe(300);
    for (let i = 0; i < 100; i++) {
      const d = retryDelayMs(2, 1_000);
      expect(d).toBeGreaterThanOrEqual(1_000);
      expect(d).toBeLessThanOrEqual(2_000);
    }
  });
});
