// Finds each user's session on this node and hands it the run events of that user's runs.
// One session statechart per connected user tracks its sockets and runs; each socket has a
// `SocketChannel` holding its per-run cursors.
import { createActor, initialTransition, transition, type InspectionEvent, type SnapshotFrom } from 'xstate';
import { sessionMachine, type SessionMachineEvent } from '../../machines/session.machine.js';
import type { Logger } from '../log/logger.js';
import { isTerminal, type SessionReadyFrame } from '../protocol/events.js';
import type { StoredEvent } from '../store/event-log.js';
import { ROOT_CONTEXT, SpanKind, trace, type SpanContext } from '@opentelemetry/api';
import { ATTR, SPAN, Telemetry } from '../telemetry/index.js';
import { ThrottledLog } from '../log/throttled.js';
import { SocketChannel, type EventReader, type SocketSink } from './cursor.js';

type SessionSnapshot = SnapshotFrom<typeof sessionMachine>;

/** What the hub needs of a session's statechart. */
interface SessionChart {
  send(event: SessionMachineEvent): void;
  getSnapshot(): SessionSnapshot;
  stop(): void;
}

/**
 * The session statechart as a bare snapshot, stepped by XState's pure `transition`: the same
 * machine and the same states, without an actor (and its system, mailbox and observers) per
 * connected user. Thousands of idle sessions then cost a few hundred bytes each here. The
 * visualizer, when it is on, gets real actors instead, for XState's inspection.
 */
class SnapshotChart implements SessionChart {
  private snapshot: SessionSnapshot;

  constructor(input: { userId: string; socketId: string }) {
    this.snapshot = initialTransition(sessionMachine, input)[0];
  }

  send(event: SessionMachineEvent): void {
    this.snapshot = transition(sessionMachine, this.snapshot, event)[0];
  }

  getSnapshot(): SessionSnapshot {
    return this.snapshot;
  }

  stop(): void {}
}

interface Session {
  actor: SessionChart;
  channels: Map<string, SocketChannel>;
}

export const CLOSE_TOO_SLOW = { code: 1013, reason: 'too slow to read; reconnect and resume' } as const;

/** Run span contexts remembered for delivery spans (tracing only), most recent last. */
const RUN_TRACES_LIMIT = 10_000;

export class SessionHub {
  private readonly sessions = new Map<string, Session>();
  /** runId → the run span of the attempt that stored its latest first or terminal event. */
  private readonly runTraces = new Map<string, SpanContext>();
  /** Failed log reads: an outage fails every carried run's reads, logged once per interval. */
  private readonly readFailures: ThrottledLog;

  constructor(
    private readonly reader: EventReader,
    private readonly log: Logger,
    /** When runs were accepted (database clock): decides whether a socket carries a run it did not see start. */
    private readonly createdAt: (runIds: string[]) => Promise<Map<string, { userId: string; createdAt: number }>> = async () => new Map(),
    private readonly telemetry: Telemetry = Telemetry.off(),
    /** The statechart visualizer's live feed, when it is on: XState inspection of each session actor. */
    private readonly inspect?: (userId: string) => (ev: InspectionEvent) => void,
  ) {
    this.readFailures = new ThrottledLog(log, 'error', 'delivery from the log failed');
  }

  /**
   * An event reached a socket: the storage-to-send delay, and for a run's first and last event a
   * delivery span, a child of the run span (known when the run executes on this node).
   */
  private sent(channel: SocketChannel, stored: StoredEvent): void {
    const t = this.telemetry;
    const { event } = stored;
    const storedAt = Date.parse(event.ts);
    const now = Date.now();
    t.sendDelay.observe((now - storedAt) / 1000);
    channel.noteSent(event.runId, event.seq, storedAt);
    if (!t.tracing) return;
    const terminal = isTerminal(event.type);
    if (event.seq !== 1 && !terminal) return;
    const run = stored.trace ?? this.runTraces.get(event.runId);
    if (!run) return;
    t.tracer
      .startSpan(
        event.seq === 1 ? SPAN.deliverFirst : SPAN.deliverLast,
        {
          kind: SpanKind.PRODUCER,
          startTime: storedAt,
          attributes: {
            [ATTR.runId]: event.runId,
            [ATTR.seq]: event.seq,
            [ATTR.eventType]: event.type,
            [ATTR.socketId]: channel.sink.id,
            [ATTR.userId]: channel.userId,
          },
        },
        trace.setSpanContext(ROOT_CONTEXT, run),
      )
      .end(now);
  }

  private rememberTrace(stored: StoredEvent): void {
    if (!stored.trace) return;
    this.runTraces.delete(stored.event.runId);
    this.runTraces.set(stored.event.runId, stored.trace);
    if (this.runTraces.size > RUN_TRACES_LIMIT) this.runTraces.delete(this.runTraces.keys().next().value as string);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get socketCount(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.channels.size;
    return n;
  }

  /** Registers a socket before its snapshot is read, so no event of a new run slips between. */
  open(userId: string, sink: SocketSink): SocketChannel {
    const channel = new SocketChannel(userId, sink, this.reader, {
      // Runs delivered from other nodes' hints end here too, not only in `deliver`.
      onTerminal: (_c, runId) => this.sessions.get(userId)?.actor.send({ type: 'RUN_FINISHED', runId }),
      onSent: (c, stored) => this.sent(c, stored),
      onDropped: (c) => {
        this.telemetry.backpressureCloses.inc();
        this.log.warn({ userId, socketId: c.sink.id }, 'socket buffer full; closing it');
        c.sink.close(CLOSE_TOO_SLOW.code, CLOSE_TOO_SLOW.reason);
      },
      onError: (err) => this.readFailures.report(err, { userId }),
    });
    let session = this.sessions.get(userId);
    if (!session) {
      const input = { userId, socketId: sink.id };
      const actor = this.inspect ? createActor(sessionMachine, { input, inspect: this.inspect(userId) }).start() : new SnapshotChart(input);
      session = { actor, channels: new Map() };
      this.sessions.set(userId, session);
    } else {
      session.actor.send({ type: 'SOCKET_OPENED', socketId: sink.id });
    }
    session.channels.set(sink.id, channel);
    return channel;
  }

  /**
   * Sends `session_ready` (always the socket's first frame) and starts delivery. Runs of the
   * snapshot that the socket already carries (they started while it was opening) are not listed.
   */
  ready(channel: SocketChannel, asOf: number, frame: SessionReadyFrame): void {
    if (channel.closed) return;
    channel.since = asOf;
    const runs = frame.runs.filter((r) => !channel.cursors.has(r.runId));
    for (const r of runs) channel.listed.add(r.runId);
    if (channel.sink.send(JSON.stringify({ ...frame, runs })) === 'dropped') {
      // session_ready must be the first frame: a socket that lost it cannot be delivered to.
      this.telemetry.backpressureCloses.inc();
      channel.sink.close(CLOSE_TOO_SLOW.code, CLOSE_TOO_SLOW.reason);
      return;
    }
    channel.markReady();
  }

  close(channel: SocketChannel): void {
    channel.close();
    const session = this.sessions.get(channel.userId);
    if (!session || session.channels.get(channel.sink.id) !== channel) return;
    session.channels.delete(channel.sink.id);
    session.actor.send({ type: 'SOCKET_CLOSED', socketId: channel.sink.id });
    if (session.actor.getSnapshot().status === 'done') {
      session.actor.stop();
      this.sessions.delete(channel.userId);
    }
  }

  /** A run of `userId` was accepted on this node: every open socket of the user carries it from its start. */
  runActive(userId: string, runId: string): void {
    const session = this.sessions.get(userId);
    if (!session) return;
    session.actor.send({ type: 'RUN_ACTIVE', runId });
    for (const channel of session.channels.values()) channel.adopt(runId);
  }

  /** A stored event of one of `userId`'s runs: offered to that user's sockets, and only theirs. */
  deliver(userId: string, stored: StoredEvent): void {
    const session = this.sessions.get(userId);
    if (!session) return;
    this.rememberTrace(stored);
    const { runId, seq } = stored.event;
    if (seq === 1) session.actor.send({ type: 'RUN_ACTIVE', runId });
    let unknown = false;
    for (const channel of session.channels.values()) {
      channel.offer(stored);
      if (seq > 1 && channel.ready && channel.mayAdopt(runId)) unknown = true;
    }
    if (unknown) void this.adoptStartedElsewhere(new Map([[runId, seq]]));
    if (isTerminal(stored.event.type)) session.actor.send({ type: 'RUN_FINISHED', runId });
  }

  /** Hints from another node: the events are in the log. */
  hint(hints: ReadonlyArray<{ userId: string; runId: string; fromSeq: number; toSeq: number }>): void {
    const unknown = new Map<string, number>();
    for (const h of hints) {
      const session = this.sessions.get(h.userId);
      if (!session) continue;
      if (h.fromSeq === 1) session.actor.send({ type: 'RUN_ACTIVE', runId: h.runId });
      for (const channel of session.channels.values()) {
        channel.hint(h.runId, h.fromSeq, h.toSeq);
        if (h.fromSeq > 1 && channel.ready && channel.mayAdopt(h.runId)) unknown.set(h.runId, h.toSeq);
      }
    }
    if (unknown.size > 0) void this.adoptStartedElsewhere(unknown);
  }

  /**
   * A notification lost between nodes can hide a run's start from a socket. A run the socket
   * does not know, accepted after the socket's snapshot, started while it was open: carry it.
   */
  private async adoptStartedElsewhere(runs: Map<string, number>): Promise<void> {
    let created: Map<string, { userId: string; createdAt: number }>;
    try {
      created = await this.createdAt([...runs.keys()]);
    } catch (err) {
      this.log.warn({ err }, 'looking up runs for delivery failed');
      return;
    }
    for (const [runId, info] of created) {
      const session = this.sessions.get(info.userId);
      if (!session) continue;
      for (const channel of session.channels.values()) {
        if (channel.ready && info.createdAt > channel.since) channel.adopt(runId, runs.get(runId) ?? 0);
      }
    }
  }

  /**
   * Notifications may have been lost: catch every socket up from the log. `now` (the listener
   * reconnected, so the database answers): runs waiting to retry a failed read read at once.
   */
  repairAll(now = false): void {
    for (const s of this.sessions.values()) for (const c of s.channels.values()) c.repair(now);
  }

  /** Every open socket of a user (for frames that concern all of them). */
  channelsOf(userId: string): SocketChannel[] {
    return [...(this.sessions.get(userId)?.channels.values() ?? [])];
  }

  /** Snapshots of the session actors (for the debug page and tests). */
  sessionStates(): Array<{ userId: string; value: unknown; sockets: number }> {
    return [...this.sessions.entries()].map(([userId, s]) => ({
      userId,
      value: s.actor.getSnapshot().value,
      sockets: s.channels.size,
    }));
  }

  /**
   * Closes sockets that have read nothing for `maxMs` while their buffer was full: a client that
   * stopped reading costs memory and cursors. It reconnects and resumes from the log.
   */
  closeStalled(maxMs: number, now = Date.now()): number {
    let closed = 0;
    for (const s of this.sessions.values()) {
      for (const c of [...s.channels.values()]) {
        if (c.paused && c.pausedSince > 0 && now - c.pausedSince >= maxMs) {
          c.sink.close(CLOSE_TOO_SLOW.code, CLOSE_TOO_SLOW.reason);
          this.telemetry.backpressureCloses.inc();
          closed++;
        }
      }
    }
    return closed;
  }

  /** Shutdown: every socket is closed with 1001 (going away: reconnect and resume). */
  closeAll(code = 1001, reason = 'server shutting down'): void {
    this.readFailures.stop();
    for (const s of this.sessions.values()) {
      s.actor.send({ type: 'SHUTDOWN' });
      for (const c of [...s.channels.values()]) c.sink.close(code, reason);
    }
  }
}

