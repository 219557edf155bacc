// Waits out a database outage: retries an operation while the failure is a lost connection.
import { isConnectionError } from '../protocol/errors.js';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Runs `op`; while it fails because the database is unreachable, waits (100 ms doubling to 2 s)
 * and tries again, until `signal` aborts. Any other failure is thrown at once.
 */
export async function retryWhileUnreachable<T>(op: () => Promise<T>, signal?: AbortSignal, onRetry?: (err: unknown) => void): Promise<T> {
  let delay = 100;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (!isConnectionError(err) || signal?.aborted) throw err;
      onRetry?.(err);
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 2_000);
    }
  }
}
