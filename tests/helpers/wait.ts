// Waiting for a state that has no event to await (a row in another process's database, a
// process's memory): poll it, bounded, and fail with a message instead of hanging.
export async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 30_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * The promise's outcome if it has settled by the next macrotask, else 'pending': for promises that
 * must already be settled by a synchronous call (no timer, no sleep), where "still hanging" is the
 * failure to report.
 */
export async function settledNow<T>(p: Promise<T>): Promise<T | 'pending'> {
  const pending = new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')));
  return Promise.race([p, pending]);
}
