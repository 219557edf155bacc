// A failure that repeats by the thousand (a database outage meets the reads of every carried run)
// is logged when it starts and then as one line per interval with a count, never once per
// occurrence: the log stays readable and logging costs nothing while the outage lasts.
import type { Logger } from './logger.js';

export class ThrottledLog {
  private timer: NodeJS.Timeout | undefined;
  /** Occurrences since the last line, and the latest one's error. */
  private repeated = 0;
  private latest: unknown;

  constructor(
    private readonly log: Logger,
    private readonly level: 'warn' | 'error',
    private readonly message: string,
    readonly intervalMs = 10_000,
  ) {}

  /** One occurrence: logged at once if none was logged in the current interval, else counted. */
  report(err: unknown, fields: Record<string, unknown> = {}): void {
    if (this.timer) {
      this.repeated++;
      this.latest = err;
      return;
    }
    this.log[this.level]({ err, ...fields }, this.message);
    this.open();
  }

  private open(): void {
    this.timer = setTimeout(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  private flush(): void {
    this.timer = undefined;
    if (this.repeated === 0) return; // a quiet interval: the next occurrence is logged at once
    this.log[this.level]({ err: this.latest, repeated: this.repeated, intervalMs: this.intervalMs }, `${this.message} (repeated)`);
    this.repeated = 0;
    this.latest = undefined;
    this.open();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
