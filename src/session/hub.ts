// Finds each user's session on this node and hands it the run events of that user's runs. The hub
// is the one registry of this node's sockets, by user (each a `SocketChannel` holding its per-run
// cursors, and the token version it was opened under); one session statechart per connected user
// decides, and its actions do, what a run's start, a socket's close and shutdown mean for them.
import { createActor, type ActorRefFrom, type AnyActorScope, type ExecutableActionObject, type InspectionEvent, type SnapshotFrom } from 'xstate';
import { inertScope } from '../../machines/inert-scope.js';
import { sessionMachine, type SessionMachineEvent } from '../../machines/session.machine.js';
import type { Logger } from '../log/logger.js';
import { CLOSE_CODES } from '../protocol/wire.js';
import { isTerminal, type SessionReadyFrame } from '../protocol/events.js';
import type { StoredEvent } from '../store/event-log.js';
import { ROOT_CONTEXT, SpanKind, trace, type SpanContext } from '@opentelemetry/api';
import { ATTR, SPAN, Telemetry } from '../telemetry/index.js';
import { ThrottledLog } from '../log/throttled.js';
import { SocketChannel, type EventReader, type SocketSink } from './cursor.js';

type SessionLogic = typeof sessionMachine;
type SessionSnapshot = SnapshotFrom<SessionLogic>;

/** What the hub needs of a session's statechart. */
interface SessionChart {
  send(event: SessionMachineEvent): void;
  getSnapshot(): SessionSnapshot;
}

/**
 * The session statechart as a bare snapshot, stepped by XState's pure `transition`, which returns
 * the next snapshot and the actions to run (effects as data): they are run here, in order, as an
 * actor would run them. The same machine, states and actions, without an actor (and its system,
 * mailbox and observers) per connected user, so thousands of idle sessions cost a few hundred
 * bytes each. The visualizer, when it is on, gets real actors of the same machine instead, for
 * XState's inspection.
 */
class SnapshotChart implements SessionChart {
  private snapshot: SessionSnapshot;

  constructor(
    private readonly stepper: SessionStepper,
    input: { userId: string },
  ) {
    const [snapshot, actions] = stepper.initial(input);
    this.snapshot = snapshot;
    runActions(actions);
  }

  send(event: SessionMachineEvent): void {
    const [snapshot, actions] = this.stepper.step(this.snapshot, event);
    this.snapshot = snapshot;
    runActions(actions);
  }

  getSnapshot(): SessionSnapshot {
    return this.snapshot;
  }
}

const runActions = (actions: readonly ExecutableActionObject[]) => {
  for (const a of actions) a.exec?.(a.info, a.params);
};

/**
 * Steps the session statechart as XState's `transition` and `initialTransition` do (the next
 * snapshot, and the actions to run), in one scope made once per hub (machines/inert-scope.ts):
 * those functions build a throwaway actor per call, most of a step's cost. The chart runs the
 * actions once it holds the new snapshot; an action may step a chart again (closing a socket
 * does), after this step's collection ended.
 */
class SessionStepper {
  private readonly scope: AnyActorScope;
  private collected: ExecutableActionObject[] = [];

  constructor(private readonly logic: SessionLogic) {
    this.scope = inertScope(logic);
    this.scope.actionExecutor = (a) => this.collected.push(a);
  }

  initial(input: { userId: string }): [SessionSnapshot, ExecutableActionObject[]] {
    return this.collect(() => this.logic.getInitialSnapshot(this.scope, input));
  }

  step(snapshot: SessionSnapshot, event: SessionMachineEvent): [SessionSnapshot, ExecutableActionObject[]] {
    return this.collect(() => this.logic.transition(snapshot, event, this.scope));
  }

  private collect(compute: () => SessionSnapshot): [SessionSnapshot, ExecutableActionObject[]] {
    this.collected = [];
    try {
      return [compute(), this.collected];
    } finally {
      this.collected = [];
    }
  }
}

interface Session {
  chart: SessionChart | ActorRefFrom<SessionLogic>;
  /** The user's open sockets on this node, by socket id: the one registry of them. */
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

  /** The session statechart with the hub's implementations of its actions, for snapshots and actors alike. */
  private readonly logic: SessionLogic = sessionMachine.provide({
    actions: {
      carryRun: ({ context }, { runId }) => {
        for (const channel of this.sessions.get(context.userId)?.channels.values() ?? []) channel.adopt(runId);
      },
      closeSockets: ({ context }, { code, reason }) => {
        for (const channel of [...(this.sessions.get(context.userId)?.channels.values() ?? [])]) channel.sink.close(code, reason);
      },
      endSession: ({ context }) => {
        this.sessions.delete(context.userId);
      },
    },
  });

  private readonly stepper = new SessionStepper(this.logic);

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

  /**
   * Registers a socket before its snapshot is read, so no event of a new run slips between.
   * `tokenVersion`: the user's token version the socket was authenticated under (see `revoke`).
   */
  open(userId: string, sink: SocketSink, tokenVersion = 0): SocketChannel {
    const channel = new SocketChannel(userId, sink, this.reader, {
      // Runs delivered from other nodes' hints end here too, not only in `deliver`.
      onTerminal: (_c, runId) => this.finished(this.sessions.get(userId), runId),
      onSent: (c, stored) => this.sent(c, stored),
      onDropped: (c) => {
        this.telemetry.backpressureCloses.inc();
        this.log.warn({ userId, socketId: c.sink.id }, 'socket buffer full; closing it');
        c.sink.close(CLOSE_TOO_SLOW.code, CLOSE_TOO_SLOW.reason);
      },
      onError: (err) => this.readFailures.report(err, { userId }),
    });
    channel.tokenVersion = tokenVersion;
    let session = this.sessions.get(userId);
    if (!session) {
      const input = { userId };
      const chart = this.inspect ? createActor(this.logic, { input, inspect: this.inspect(userId) }).start() : new SnapshotChart(this.stepper, input);
      session = { chart, channels: new Map() };
      this.sessions.set(userId, session);
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
    // The last socket's close ends the session (the machine's `endSession`).
    session.chart.send({ type: 'SOCKET_CLOSED', socketId: channel.sink.id, remaining: session.channels.size });
  }

  /** Open sockets of `userId` on this node. */
  socketsOf(userId: string): number {
    return this.sessions.get(userId)?.channels.size ?? 0;
  }

  /** Closes (4401) the user's sockets opened under another token version than `currentVersion`. Returns how many. */
  revoke(userId: string, currentVersion: number): number {
    let n = 0;
    for (const c of [...(this.sessions.get(userId)?.channels.values() ?? [])]) {
      if (c.tokenVersion !== currentVersion) {
        c.sink.close(CLOSE_CODES.tokenExpired, 'token revoked; log in again');
        n++;
      }
    }
    return n;
  }

  /** Revocations made on other processes: every connected user's version is read, stale sockets closed. */
  async checkRevocations(versions: (userIds: string[]) => Promise<Map<string, number>>): Promise<number> {
    const ids = [...this.sessions.keys()];
    if (ids.length === 0) return 0;
    const current = await versions(ids);
    let n = 0;
    // A user that no longer exists has no valid token either.
    for (const id of ids) n += this.revoke(id, current.get(id) ?? Number.NaN);
    return n;
  }

  /** A run of `userId` was accepted on this node: every open socket of the user carries it from its start (the machine's `carryRun`). */
  runActive(userId: string, runId: string): void {
    this.sessions.get(userId)?.chart.send({ type: 'RUN_ACCEPTED', runId });
  }

  /** A stored event of one of `userId`'s runs: offered to that user's sockets, and only theirs. */
  deliver(userId: string, stored: StoredEvent): void {
    const session = this.sessions.get(userId);
    if (!session) return;
    this.rememberTrace(stored);
    const { runId, seq } = stored.event;
    if (seq === 1) this.active(session, runId);
    let unknown = false;
    for (const channel of session.channels.values()) {
      channel.offer(stored);
      if (seq > 1 && channel.ready && channel.mayAdopt(runId)) unknown = true;
    }
    if (unknown) void this.adoptStartedElsewhere(new Map([[runId, seq]]));
    if (isTerminal(stored.event.type)) this.finished(session, runId);
  }

  // The session statechart is stepped only when a step can change it: a run it already counts
  // as active (accepted here) is not added again, and a run it no longer counts (its terminal
  // event reached the session and then each socket, or another node's hint came first) is not
  // removed again. Those steps are no-ops of the machine (`addRun`, `removeRun`), and they were
  // two of the four steps of every run on the send path.
  private active(session: Session, runId: string): void {
    if (!session.chart.getSnapshot().context.activeRuns.includes(runId)) session.chart.send({ type: 'RUN_ACTIVE', runId });
  }

  private finished(session: Session | undefined, runId: string): void {
    if (session?.chart.getSnapshot().context.activeRuns.includes(runId)) session.chart.send({ type: 'RUN_FINISHED', runId });
  }

  /** Hints from another node: the events are in the log. */
  hint(hints: ReadonlyArray<{ userId: string; runId: string; fromSeq: number; toSeq: number }>): void {
    const unknown = new Map<string, number>();
    for (const h of hints) {
      const session = this.sessions.get(h.userId);
      if (!session) continue;
      if (h.fromSeq === 1) this.active(session, h.runId);
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
  sessionStates(): Array<{ userId: string; value: unknown; sockets: number; activeRuns: readonly string[] }> {
    return [...this.sessions.entries()].map(([userId, s]) => {
      const snapshot = s.chart.getSnapshot();
      return { userId, value: snapshot.value, sockets: s.channels.size, activeRuns: snapshot.context.activeRuns };
    });
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

  /** Shutdown: every socket is closed with 1001 (going away: reconnect and resume), by the machine's `closeSockets`. */
  closeAll(code = 1001, reason = 'server shutting down'): void {
    this.readFailures.stop();
    for (const s of [...this.sessions.values()]) s.chart.send({ type: 'SHUTDOWN', code, reason });
  }
}

