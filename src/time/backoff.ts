// The one backoff of agentwire, and its one sleep. Every retry that waits (a run's failed attempt,
// a database outage, a broken model stream, a socket's failed log read) waits `backoffMs`.
import { setTimeout as delay } from 'node:timers/promises';

export interface Backoff {
  /** The wait's ceiling after the first failure. */
  baseMs: number;
  /** The ceiling never grows past this. */
  maxMs: number;
}

/**
 * The wait after `failures` failures (1 for the first): the ceiling doubles per failure from
 * `baseMs` up to `maxMs`, and the wait is a random point in its upper half ("equal jitter"), so
 * the retries of things that failed together do not come back together, and none comes back at once.
 */
export function backoffMs(failures: number, b: Backoff, random: () => number = Math.random): number {
  // Doublings are capped before exponentiation: 2 ** 2000 is Infinity, and Infinity × 0 is NaN.
  const doublings = Math.min(Math.max(failures - 1, 0), 52);
  const ceiling = Math.min(b.maxMs, b.baseMs * 2 ** doublings);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Waits `ms`; when `signal` aborts, rejects at once with the signal's reason (not a generic AbortError). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  }
}
