// Streamed answer tokens arrive one or a few characters at a time. Storing each as its own
// `agent_output` row would make storage (and the per-event costs behind it: a transaction, a
// notification, a frame per socket) grow with every token. The coalescer joins them into pieces:
// a piece is written once it holds `maxChars` characters or `maxDelayMs` after its first
// character, whichever comes first, so a client waits at most `maxDelayMs` extra for any token.
// The agent calls `flush()` before any other event and before it answers, so the order of
// events is the order in which the model produced them.

export interface CoalesceOptions {
  maxDelayMs: number;
  maxChars: number;
}

export type StreamKind = 'thinking' | 'output';

export class OutputCoalescer {
  private buffer = '';
  private kind: StreamKind = 'output';
  private timer: NodeJS.Timeout | undefined;
  /** The write in flight, so `flush()` returns only once everything before it is stored. */
  private pending: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    private readonly write: (kind: StreamKind, text: string) => Promise<void>,
    private readonly opts: CoalesceOptions,
  ) {}

  /**
   * Adds streamed text of one kind (reasoning becomes thinking, answer tokens output); a change
   * of kind writes what was buffered first. Never throws: it is called from inside the provider's
   * stream, where a storage failure must not pass for a broken stream. A failed write surfaces at
   * the next `flush()`, and nothing more is written after it.
   */
  push(kind: StreamKind, text: string): void {
    if (text.length === 0 || this.failure !== undefined) return;
    if (kind !== this.kind) {
      this.writeNow();
      this.kind = kind;
    }
    this.buffer += text;
    if (this.buffer.length >= this.opts.maxChars) this.writeNow();
    else this.timer ??= setTimeout(() => this.writeNow(), this.opts.maxDelayMs);
  }

  /** Writes whatever is buffered and waits until every piece is stored. */
  async flush(): Promise<void> {
    this.writeNow();
    await this.pending;
    this.rethrow();
  }

  /**
   * Drops what is buffered and waits for writes already started, ignoring their failures: the run
   * is failing or aborted, and its terminal event must come after every stored piece.
   */
  async discard(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.buffer = '';
    await this.pending;
  }

  private writeNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const piece = this.buffer;
    const kind = this.kind;
    this.buffer = '';
    // Writes are chained so pieces are stored in order even if one write is slow.
    this.pending = this.pending.then(() => (this.failure === undefined ? this.write(kind, piece) : undefined)).catch((err: unknown) => {
      this.failure ??= err;
    });
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
