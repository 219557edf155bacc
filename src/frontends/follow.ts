// The stream source of SSE answers: each follows one run with a socket cursor (src/session/
// cursor.ts): what the log holds after a seq first, then live events from the run event bus
// (this node's, and other nodes' notifications), gaps repaired from the log, exactly as a
// socket is carried.
import { SocketChannel, type EventReader } from '../session/cursor.js';
import type { StoredEvent } from '../store/event-log.js';
import type { SseSink, SseStats } from './sse.js';

export interface Following {
  /** The client went away: stop, schedule nothing more. */
  stop(): void;
}

export class RunFollowers {
  private readonly byRun = new Map<string, Set<SocketChannel>>();
  private open = 0;
  private readonly sinks = new Set<SseSink>();

  constructor(
    private readonly reader: EventReader,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Streams open on this node. */
  get count(): number {
    return this.open;
  }

  /** What each open stream holds and whether it is paused (tests, debugging). */
  stats(): SseStats[] {
    return [...this.sinks].map((s) => ({ ...s.stats }));
  }

  /** Sends `runId`'s events after `afterSeq` to `sink`, then its live tail; `onEnd` after its terminal event. */
  follow(userId: string, runId: string, afterSeq: number, sink: SseSink, onEnd: () => void): Following {
    let set = this.byRun.get(runId);
    if (!set) this.byRun.set(runId, (set = new Set()));
    const channels = set;
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      this.open--;
      this.sinks.delete(sink);
      channel.close();
      channels.delete(channel);
      if (channels.size === 0 && this.byRun.get(runId) === channels) this.byRun.delete(runId);
    };
    const channel = new SocketChannel(userId, sink, this.reader, {
      onTerminal: () => {
        stop();
        onEnd();
      },
      onDropped: () => stop(),
      onError: (err) => this.onError(err),
    });
    this.open++;
    this.sinks.add(sink);
    channels.add(channel);
    sink.drained(() => channel.resumeAfterDrain());
    channel.markReady();
    channel.resume(runId, afterSeq);
    return { stop };
  }

  /** A live event of this node (already stored). */
  offer(stored: StoredEvent): void {
    const set = this.byRun.get(stored.event.runId);
    if (set) for (const c of [...set]) c.offer(stored);
  }

  /** Other nodes' notifications: the run has events up to `toSeq`. */
  hint(hints: ReadonlyArray<{ runId: string; fromSeq: number; toSeq: number }>): void {
    for (const h of hints) {
      const set = this.byRun.get(h.runId);
      if (set) for (const c of [...set]) c.hint(h.runId, h.fromSeq, h.toSeq);
    }
  }

  /** Reads every followed run to the end of its log (missed notifications). */
  repairAll(now = false): void {
    for (const set of this.byRun.values()) for (const c of set) c.repair(now);
  }
}
