// A token bucket per key: `limit` tokens per `windowMs`, refilled continuously. Used for frames,
// requests, HTTP calls, logins and registrations (one owner of every per-key limit).
// Kept hand-written: a synchronous in-process bucket with `refund` and an exact retry-after is 30
// lines; the libraries (rate-limiter-flexible, bottleneck) are async and built around shared stores.
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token: 0 when allowed, else the milliseconds until one is available. */
  take(key: string): number {
    const t = this.now();
    const rate = this.limit / this.windowMs;
    const b = this.buckets.get(key) ?? { tokens: this.limit, at: t };
    b.tokens = Math.min(this.limit, b.tokens + (t - b.at) * rate);
    b.at = t;
    // The tolerance absorbs float rounding: waiting exactly the announced time must be enough.
    if (b.tokens >= 1 - 1e-9) {
      b.tokens -= 1;
      this.buckets.set(key, b);
      // Full buckets carry no information: keep the map small.
      if (this.buckets.size > 10_000) this.prune(t);
      return 0;
    }
    this.buckets.set(key, b);
    return Math.ceil((1 - b.tokens) / rate);
  }

  /** Gives back a token taken by `take` (an attempt that turned out not to count, e.g. a successful login). */
  refund(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.limit, b.tokens + 1);
  }

  private prune(t: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (t - b.at) * (this.limit / this.windowMs) >= this.limit) this.buckets.delete(k);
  }
}
