// RateLimiter: a token bucket per key, `limit` tokens per `windowMs`, refilled continuously.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { RateLimiter } from '../../../src/limits/rate-limit.js';

function fakeClock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('RateLimiter', () => {
  it('allows a full burst of `limit`, then refuses with the time until the next token', () => {
    const clock = fakeClock();
    const rl = new RateLimiter(60, 60_000, clock.now);
    for (let i = 0; i < 60; i++) expect(rl.take('u')).toBe(0);
    expect(rl.take('u')).toBe(1000); // one token per second
    expect(rl.take('u')).toBe(1000); // a refusal takes nothing
  });

  it('refills continuously: after the announced wait exactly one more is allowed', () => {
    const clock = fakeClock();
    const rl = new RateLimiter(60, 60_000, clock.now);
    for (let i = 0; i < 60; i++) rl.take('u');
    clock.advance(400);
    expect(rl.take('u')).toBe(600);
    clock.advance(600);
    expect(rl.take('u')).toBe(0);
    expect(rl.take('u')).toBe(1000);
  });

  it('refills to the limit, never beyond', () => {
    const clock = fakeClock();
    const rl = new RateLimiter(5, 10_000, clock.now);
    for (let i = 0; i < 5; i++) expect(rl.take('u')).toBe(0);
    clock.advance(10 * 60_000); // a long idle time stores no more than `limit`
    for (let i = 0; i < 5; i++) expect(rl.take('u')).toBe(0);
    expect(rl.take('u')).toBeGreaterThan(0);
  });

  it('waiting exactly the announced time is enough, despite float rounding', () => {
    // Found by the property below: 1 token per 21 298 ms, 4 431 ms after the first take.
    const clock = fakeClock();
    const rl = new RateLimiter(1, 21_298, clock.now);
    expect(rl.take('u')).toBe(0);
    clock.advance(4431);
    const wait = rl.take('u');
    expect(wait).toBe(16_867);
    clock.advance(wait);
    expect(rl.take('u')).toBe(0);
  });

  it('keys are independent', () => {
    const clock = fakeClock();
    const rl = new RateLimiter(2, 1000, clock.now);
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBe(500);
    expect(rl.take('b')).toBe(0);
    expect(rl.take('b')).toBe(0);
    expect(rl.take('b')).toBe(500);
  });

  it('stays correct for many keys (the map is pruned of full buckets)', () => {
    const clock = fakeClock();
    const rl = new RateLimiter(3, 3000, clock.now);
    // Drain one key, then touch over 10 000 others so that pruning runs.
    for (let i = 0; i < 3; i++) rl.take('hot');
    for (let i = 0; i < 10_050; i++) rl.take(`k${i}`);
    expect(rl.take('hot')).toBe(1000); // an empty bucket is not forgotten
    clock.advance(5000); // every bucket full again
    for (let i = 0; i < 10_050; i++) rl.take(`k${i}`);
    for (let i = 0; i < 3; i++) expect(rl.take('hot')).toBe(0);
    expect(rl.take('hot')).toBe(1000);
  });

  it('property: over any schedule, allowed takes never exceed limit + elapsed × rate, and waits are honest', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 200 }),
        (limit, windowMs, gaps) => {
          const clock = fakeClock();
          const rl = new RateLimiter(limit, windowMs, clock.now);
          let allowed = 0;
          let elapsed = 0;
          for (const gap of gaps) {
            clock.advance(gap);
            elapsed += gap;
            const wait = rl.take('k');
            if (wait === 0) allowed++;
            else {
              expect(wait).toBeGreaterThan(0);
              expect(Number.isInteger(wait)).toBe(true);
              // Waiting exactly the announced time is enough.
              clock.advance(wait);
              elapsed += wait;
              expect(rl.take('k')).toBe(0);
              allowed++;
            }
            expect(allowed).toBeLessThanOrEqual(limit + (elapsed * limit) / windowMs + 1e-6);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
