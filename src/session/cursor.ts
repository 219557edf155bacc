// Per-socket delivery of one run: the cursor is the last seq this socket was given. Live events
// are hints; the log is the truth. A socket is sent strictly `delivered + 1`; anything early,
// late or missed is read back from the log, so each socket gets each event once, in order.
import { backoffMs } from '../time/backoff.js';
import { isTerminal } from '../protocol/wire.js';
import type { StoredEvent } from '../store/event-log.js';

export type SendResult = 'ok' | 'backpressure' | 'dropped';

/** The socket as delivery sees it (uWS in production, a recorder in model tests). */
export interface SocketSink {
  readonly id: string;
  /** `backpressure`: queued but over the soft limit; `dropped`: not sent at all. */
  send(text: string): SendResult;
  close(code: number, reason: string): void;
}

export interface EventReader {
  read(runId: string, afterSeq: number, limit: number): Promise<StoredEvent[]>;
}

export const PUMP_PAGE = 256;

/**
 * After a failed read of a run's log, the cursor waits before reading again: from RETRY_BASE_MS,
 * doubling per failure up to RETRY_MAX_MS, half of it random so the cursors an outage failed
 * together do not retry together. Without the wait a failing read is retried at once, and every
 * carried run spins its socket's pump (a rejected read that needs no I/O starves the event loop).
 */
export const RETRY_BASE_MS = 250;
export const RETRY_MAX_MS = 10_000;

export class RunCursor {
  delivered: number;
  /** Highest seq known to exist (from live events); the pump reads the log until it reaches it. */
  known: number;
  pumping = false;
  /** Live events offered beyond `delivered`: one arriving while the pump reads means it is not caught up. */
  hints = 0;
  /** Reads failed in a row; the next retry waits longer for each. */
  failures = 0;
  /** Set while the cursor waits to read again after a failure: nothing pumps it before. */
  retryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly runId: string,
    delivered: number,
  ) {
    this.delivered = delivered;
    this.known = delivered;
  }
}

export interface ChannelHooks {
  /** Called after a terminal event was sent on this socket. */
  onTerminal(channel: SocketChannel, runId: string): void;
  /** Called when a frame could not be sent (buffer full beyond the hard limit). */
  onDropped(channel: SocketChannel): void;
  onError(err: unknown): void;
  /** Called after an event was handed to the socket (telemetry). */
  onSent?(channel: SocketChannel, stored: StoredEvent): void;
}

/** Events whose send time a socket remembers for the ack-delay metric. */
const SENT_AT_LIMIT = 256;

/** One open socket: the runs it carries and where each stands. */
export class SocketChannel {
  readonly cursors = new Map<string, RunCursor>();
  // The collections below are made on first use: most sockets sit idle for hours, and each empty
  // Map or Set costs its backing store (the idle-session benchmark, docs/performance.md).
  private listedRuns: Set<string> | undefined;
  /** Runs whose terminal event this socket sent: a repeated `seq` 1 hint must not carry them again. */
  private finished: Set<string> | undefined;
  ready = false;
  paused = false;
  /** Database time of the socket's snapshot: runs accepted later started while it was open. */
  since = Number.POSITIVE_INFINITY;
  /** When the socket last became backpressured (ms since epoch); 0 while it is not. */
  pausedSince = 0;
  /** The user's token version the socket was authenticated under: a logout or password change closes it (the hub's `revoke`). */
  tokenVersion = 0;
  closed = false;
  /** `runId:seq` → when that event was stored (ms), for events sent here and not yet acked. */
  private sentAt: Map<string, number> | undefined;

  /** Runs listed in `session_ready`: carried only once the socket resumes them. */
  get listed(): Set<string> {
    return (this.listedRuns ??= new Set());
  }

  constructor(
    readonly userId: string,
    readonly sink: SocketSink,
    private readonly reader: EventReader,
    private readonly hooks: ChannelHooks,
  ) {}

  /** A live event of one of the user's runs. */
  offer(stored: StoredEvent): void {
    const { runId, seq } = stored.event;
    const cursor = this.cursorFor(runId, seq === 1);
    if (!cursor || !this.note(cursor, seq)) return;
    if (seq === cursor.delivered + 1) this.sendEvent(cursor, stored);
    else void this.pump(cursor); // a gap: repair from the log
  }

  /**
   * A hint from another node: the run has events up to `toSeq` (and started, when `fromSeq` is 1).
   * The events themselves are read from the log.
   */
  hint(runId: string, fromSeq: number, toSeq: number): void {
    const cursor = this.cursorFor(runId, fromSeq === 1);
    if (cursor && this.note(cursor, toSeq)) void this.pump(cursor);
  }

  /**
   * The cursor of a run this socket carries. A run is carried automatically only if the socket
   * sees it start while registered; one already under way is listed in session_ready and waits
   * for `resume` (or is adopted, when it was accepted after the socket's snapshot).
   */
  private cursorFor(runId: string, starts: boolean): RunCursor | undefined {
    const existing = this.cursors.get(runId);
    if (existing || !starts || !this.mayAdopt(runId)) return existing;
    const cursor = new RunCursor(runId, 0);
    this.cursors.set(runId, cursor);
    return cursor;
  }

  /** Records that the log holds the run up to `seq`; true when this socket should act on it now. */
  private note(cursor: RunCursor, seq: number): boolean {
    if (seq > cursor.known) cursor.known = seq;
    if (seq <= cursor.delivered) return false; // already delivered: a late or repeated hint
    cursor.hints++;
    return this.ready && !this.paused && !cursor.pumping; // otherwise the pump catches up
  }

  /** Whether this socket carries `runId` now, or has sent its terminal event. */
  delivers(runId: string): boolean {
    return this.cursors.has(runId) || (this.finished?.has(runId) ?? false);
  }

  /** Whether this socket would carry `runId` once it learns the run started after it opened. */
  mayAdopt(runId: string): boolean {
    return !this.closed && !this.cursors.has(runId) && !this.listedRuns?.has(runId) && !this.finished?.has(runId);
  }

  /**
   * Carries a run from its first event: one accepted while this socket was open, whose start
   * this socket did not see (accepted on this node, or its start notification was lost).
   */
  adopt(runId: string, knownSeq = 0): void {
    if (!this.mayAdopt(runId)) return;
    const cursor = new RunCursor(runId, 0);
    cursor.known = knownSeq;
    this.cursors.set(runId, cursor);
    if (knownSeq > 0 && this.ready && !this.paused) void this.pump(cursor);
  }

  /**
   * Reads every carried run up to the end of its log (after missed notifications). `now`: the
   * database is known to answer again (the listener reconnected), so cursors waiting out a failed
   * read read at once instead of at their retry.
   */
  repair(now = false): void {
    if (!this.ready || this.paused || this.closed) return;
    for (const c of this.cursors.values()) {
      c.known = Math.max(c.known, c.delivered + 1);
      c.hints++;
      if (now && c.retryTimer) {
        clearTimeout(c.retryTimer);
        c.retryTimer = undefined;
        c.failures = 0;
      }
      void this.pump(c);
    }
  }

  /** The socket closed: nothing more is sent, and no retry stays scheduled. */
  close(): void {
    this.closed = true;
    for (const c of this.cursors.values()) {
      clearTimeout(c.retryTimer);
      c.retryTimer = undefined;
    }
  }

  /** Positions the socket on a run (from `resume`): the next event sent is `afterSeq + 1`. */
  resume(runId: string, afterSeq: number): void {
    this.listedRuns?.delete(runId);
    let cursor = this.cursors.get(runId);
    if (!cursor) {
      cursor = new RunCursor(runId, afterSeq);
      this.cursors.set(runId, cursor);
    }
    cursor.delivered = afterSeq;
    // Unknown length: make the pump read the log at least once.
    cursor.known = Math.max(cursor.known, afterSeq + 1);
    void this.pump(cursor);
  }

  /**
   * Carries a run the client asked for again (an `agent_request` whose requestId names it): from
   * its first event, unless this socket carries it already (it goes on from where it is) or has
   * sent its terminal event (nothing is sent twice; `resume` replays on purpose). A run listed in
   * session_ready and not resumed is carried from its first event too.
   */
  carry(runId: string): void {
    if (this.closed || this.cursors.has(runId) || this.finished?.has(runId)) return;
    this.resume(runId, 0);
  }

  /** session_ready was sent: start delivering what arrived meanwhile. */
  markReady(): void {
    this.ready = true;
    this.pumpAll();
  }

  /** The socket drained its buffer: catch every run up from the log. */
  resumeAfterDrain(): void {
    if (!this.paused) return;
    this.paused = false;
    this.pausedSince = 0;
    this.pumpAll();
  }

  private pumpAll(): void {
    for (const c of this.cursors.values()) if (c.delivered < c.known) void this.pump(c);
  }

  private sendEvent(cursor: RunCursor, stored: StoredEvent): boolean {
    if (this.closed) return false;
    const res = this.sink.send(stored.json);
    if (res === 'dropped') {
      this.pause();
      this.hooks.onDropped(this);
      return false;
    }
    cursor.delivered = stored.event.seq;
    this.hooks.onSent?.(this, stored);
    if (res === 'backpressure') this.pause();
    if (isTerminal(stored.event.type)) {
      clearTimeout(cursor.retryTimer);
      this.cursors.delete(cursor.runId);
      const finished = (this.finished ??= new Set());
      finished.add(cursor.runId);
      // Bounded: a repeated start hint older than the last 1,000 finished runs is not expected.
      if (finished.size > 1_000) finished.delete(finished.values().next().value as string);
      this.hooks.onTerminal(this, cursor.runId);
    }
    return true;
  }

  /** Remembers when a sent event was stored, until the ack that names it (bounded). */
  noteSent(runId: string, seq: number, storedAt: number): void {
    const sentAt = (this.sentAt ??= new Map());
    sentAt.set(`${runId}:${seq}`, storedAt);
    if (sentAt.size > SENT_AT_LIMIT) sentAt.delete(sentAt.keys().next().value as string);
  }

  /** When the event an ack names was stored, if this socket sent it recently. */
  takeSentAt(runId: string, seq: number): number | undefined {
    const key = `${runId}:${seq}`;
    const at = this.sentAt?.get(key);
    if (at !== undefined) this.sentAt?.delete(key);
    return at;
  }

  private pause(): void {
    if (!this.paused) this.pausedSince = Date.now();
    this.paused = true;
  }

  private async pump(cursor: RunCursor): Promise<void> {
    if (cursor.pumping || cursor.retryTimer) return;
    cursor.pumping = true;
    let failed = false;
    try {
      while (this.ready && !this.closed && !this.paused && this.cursors.get(cursor.runId) === cursor) {
        const knownBefore = cursor.known;
        const hintsBefore = cursor.hints;
        const from = cursor.delivered;
        const page = await this.reader.read(cursor.runId, from, PUMP_PAGE);
        if (cursor.delivered !== from) continue; // repositioned by `resume` while reading: read again
        // The log holds these events: even if this socket pauses before sending them, they exist.
        const last = page[page.length - 1];
        if (last && last.event.seq > cursor.known) cursor.known = last.event.seq;
        let progressed = false;
        for (const stored of page) {
          if (this.closed || this.paused || this.cursors.get(cursor.runId) !== cursor) break;
          if (stored.event.seq !== cursor.delivered + 1) continue; // repositioned meanwhile
          if (stored.event.seq > cursor.known) cursor.known = stored.event.seq;
          if (!this.sendEvent(cursor, stored)) break;
          progressed = true;
        }
        // Interrupted (paused, closed, finished or replaced): nothing below may be concluded.
        if (this.closed || this.paused || this.cursors.get(cursor.runId) !== cursor) break;
        const atEnd = page.length < PUMP_PAGE;
        if (atEnd && cursor.delivered >= cursor.known) break;
        if (atEnd && !progressed && cursor.known === knownBefore && cursor.hints === hintsBefore) {
          // Events are stored before they are announced, so a hint the log does not hold can only
          // be the guess `resume` makes about a run's length: we are caught up.
          cursor.known = cursor.delivered;
          break;
        }
      }
      cursor.failures = 0;
    } catch (err) {
      failed = true;
      this.hooks.onError(err);
    } finally {
      cursor.pumping = false;
    }
    if (this.closed || this.cursors.get(cursor.runId) !== cursor) return;
    if (failed) this.retryLater(cursor);
    // An event may have been offered while the last read was in flight.
    else if (!this.paused && this.ready && cursor.delivered < cursor.known) void this.pump(cursor);
  }

  private retryLater(cursor: RunCursor): void {
    cursor.failures++;
    cursor.retryTimer = setTimeout(
      () => {
        cursor.retryTimer = undefined;
        void this.pump(cursor);
      },
      backoffMs(cursor.failures, { baseMs: RETRY_BASE_MS, maxMs: RETRY_MAX_MS }),
    );
  }
}
