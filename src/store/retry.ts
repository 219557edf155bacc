// Waits out a database outage: retries an operation while the failure is a lost connection.
import { isConnectionError } from '../protocol/errors.js';
import { backoffMs, sleep } from '../time/backoff.js';

/** Waits between tries: up to 100 ms after the first failure, doubling to 2 s. */
const OUTAGE_BACKOFF = { baseMs: 100, maxMs: 2_000 };

/**
 * Runs `op`; while it fails because the database is unreachable, waits (a backoff from 100 ms
 * doubling to 2 s, with jitter) and tries again, until `signal` aborts. Any other failure is thrown at once.
 */
export async function retryWhileUnreachable<T>(op: () => Promise<T>, signal?: AbortSignal, onRetry?: (err: unknown) => void): Promise<T> {
  let failures = 0;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (!isConnectionError(err) || signal?.aborted) throw err;
      onRetry?.(err);
      await sleep(backoffMs(++failures, OUTAGE_BACKOFF), signal);
    }
  }
}
