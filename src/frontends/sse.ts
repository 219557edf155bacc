// One SSE answer carrying one run: the socket cursor's sink (src/session/cursor.ts), so delivery
// is the socket's: strictly the next seq, gaps repaired from the log, nothing sent while the
// connection is backpressured (uWS keeps what was written; the cursor stops reading the log and
// catches up once uWS reports the connection writable again), so a slow reader holds at most
// one event's frames beyond uWS's buffer. A disconnect stops delivery and nothing else.
import type { HttpResponse } from 'uWebSockets.js';
import type { RunEvent } from '../protocol/events.js';
import type { SendResult, SocketSink } from '../session/cursor.js';

/** Makes the SSE text of one stored event (its frames), or '' when it has none. */
export type FrameEncoder = (event: RunEvent) => string;

/** `data:` lines joined with `\n` (never CRLF: AG-UI's clients split on `\n\n`). */
export const sseFrame = (data: string, id?: number): string => `${id !== undefined ? `id: ${id}\n` : ''}data: ${data}\n\n`;

export interface SseStats {
  /** Bytes handed to uWS in total. */
  written: number;
  /** True while uWS holds unsent bytes and the stream reads nothing from the log. */
  paused: boolean;
  /** Bytes handed to uWS since the connection last was drained (what uWS may be holding). */
  sinceDrain: number;
  /** Highest value `sinceDrain` reached. */
  maxSinceDrain: number;
}

let nextId = 0;

export class SseSink implements SocketSink {
  readonly id = `sse-${++nextId}`;
  closed = false;
  /** The client went away (or the answer ended): nothing is written again. */
  aborted = false;
  readonly stats: SseStats = { written: 0, paused: false, sinceDrain: 0, maxSinceDrain: 0 };
  private onDrain: (() => void) | undefined;

  constructor(
    private readonly res: HttpResponse,
    private readonly encode: FrameEncoder,
    private readonly hooks: { onFrames?(event: RunEvent): void } = {},
  ) {
    res.onWritable(() => {
      this.stats.paused = false;
      this.stats.sinceDrain = 0;
      this.onDrain?.();
      return true;
    });
  }

  /** Called when uWS drained what it held (the cursor resumes reading the log). */
  drained(cb: () => void): void {
    this.onDrain = cb;
  }

  /** Writes raw SSE text (a comment, a prelude). */
  write(text: string): SendResult {
    if (this.closed || this.aborted) return 'dropped';
    if (text === '') return 'ok';
    let ok = true;
    this.res.cork(() => {
      ok = this.res.write(text);
    });
    const bytes = Buffer.byteLength(text);
    this.stats.written += bytes;
    this.stats.sinceDrain += bytes;
    if (this.stats.sinceDrain > this.stats.maxSinceDrain) this.stats.maxSinceDrain = this.stats.sinceDrain;
    if (ok && !this.stats.paused) {
      this.stats.sinceDrain = 0;
      return 'ok';
    }
    this.stats.paused = true;
    return 'backpressure';
  }

  /** The cursor hands over one stored event (its wire JSON). */
  send(json: string): SendResult {
    if (this.closed || this.aborted) return 'dropped';
    const event = JSON.parse(json) as RunEvent;
    const r = this.write(this.encode(event));
    this.hooks.onFrames?.(event);
    return r;
  }

  /** Ends the answer (after the terminal event's frames, or on a refusal). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.aborted) return;
    this.aborted = true;
    this.res.cork(() => this.res.end());
  }
}
