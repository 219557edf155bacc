// Records one run's events: consults the run statechart, stores, then announces. The seq is
// assigned here, when the statechart accepts the event (one worker attempt at a time, fenced).
// An agent's non-terminal events are pipelined: accepted (or refused) at the call, then stored in
// order, the events accepted while the run's previous write was in flight together in its next
// one, and announced once that write committed (see `record`).
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import { initialRunSnapshot, refusalReason, runMachine, stepRun, type RunMachineEvent, type RunSnapshot } from '../../machines/run.machine.js';
import { isTerminal, statusForTerminal, type RunEvent, type RunEventBody, type RunStatus, type TerminalType } from '../protocol/events.js';
import type { Db, Queryable } from '../store/db.js';
import { appendBatcher } from '../store/append-batcher.js';
import { appendEvent, type StoredEvent } from '../store/event-log.js';
import { storableJson } from '../protocol/text.js';
import { retryWhileUnreachable } from '../store/retry.js';
import type { Span } from '@opentelemetry/api';
import { ATTR, type Telemetry } from '../telemetry/index.js';
import type { RunEventBus } from './bus.js';

/** The grammar refused an event: a bug in the agent (or the runtime); the event is never stored or sent. */
export class IllegalEventError extends Error {
  override name = 'IllegalEventError';
  constructor(
    readonly eventType: string,
    readonly state: unknown,
    /** Why, in words an agent's author can act on (`refusalReason`). */
    readonly reason: string = `not allowed in state ${JSON.stringify(state)}`,
    /** The sub-agent whose event it was; undefined for the run's own agent. */
    readonly agent?: string,
  ) {
    super(`${eventType} refused: ${reason}`);
  }
}

/** An event to store, as `RunRecorder.append` hands it to a writer of its own. */
export interface RecordToStore {
  event: RunEvent;
  attempt: number;
  json: string;
  /** Set for a terminal event: the run's status, stored with it. */
  finalStatus: RunStatus | undefined;
}

/** Stores one event in place of the recorder's own append: see `RunRecorder.append`. */
export type EventWriter = (record: RecordToStore) => Promise<void>;

/** A transaction around one event's append: see `inTransaction`. */
export type InTransaction = (tx: Queryable, store: () => Promise<void>) => Promise<void>;

/**
 * A writer that stores the event in a transaction of its own: `inTx` gets it and a `store`
 * function that appends the event, and calls it exactly once, after taking whatever locks must
 * come first and before what must follow (a question's park).
 */
export const inTransaction =
  (db: Db, inTx: InTransaction): EventWriter =>
  (record) =>
    db.transaction(async (tx) => {
      let stored = false;
      await inTx(tx, async () => {
        await appendEvent(tx, record);
        stored = true;
      });
      if (!stored) throw new Error(`the transaction storing ${record.event.type} did not store it`);
    });

export interface RunIdentity {
  runId: string;
  threadId: string;
  userId: string;
}

/** A stored event as the run statechart sees it (the visualizer's replay uses it too). */
export const toMachineEvent = (body: RunEventBody): RunMachineEvent => {
  switch (body.type) {
    case 'tool_executing':
    case 'tool_completed':
      return { type: body.type, toolCallId: body.toolCallId };
    case 'agent_output':
    case 'agent_completed':
      return { type: body.type, text: body.text };
    case 'input_requested':
    case 'input_received':
      return { type: body.type, interruptId: body.interruptId };
    default:
      return { type: body.type };
  }
};

/** What the recorder reports about each stored event: metrics, and span events on the run span. */
export interface RecorderTelemetry {
  telemetry: Telemetry;
  /** The attempt's run span (non-recording when tracing is off). */
  span: Span;
  /** When the run was accepted (ms since the epoch). */
  acceptedAt: number;
}

/**
 * Watches the runs executing on this node (the statechart visualizer's live feed). Each attempt
 * gets an XState actor of the run machine that mirrors the recorder's statechart, and its
 * inspection events go to `inspect(…)`; refusals and the end of an attempt are reported beside.
 */
export interface RunInspector {
  inspect(run: { runId: string; userId: string; agent: string; attempt: number }): (ev: InspectionEvent) => void;
  refused(runId: string, eventType: string, state: unknown): void;
  /** The attempt ended on this node (finished, handed over or superseded). */
  detached(runId: string): void;
}

/** A pipelined event: accepted by the statechart, not yet stored. */
interface Accepted {
  event: RunEvent;
  json: string;
  /** The statechart once this event is applied. */
  snapshot: RunSnapshot;
}

/** The outcome of one write of the pipeline (and of every event accepted into it). */
interface Group {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function group(): Group {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Awaited by whoever needs the event durable; a failure nobody waits for surfaces on the next call.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export class RunRecorder {
  /** The statechart with every accepted event applied (stored or still in the pipeline). */
  private snapshot: RunSnapshot;
  /** The statechart with every stored event applied: what a failed write rolls back to. */
  private storedSnapshot: RunSnapshot;
  /** Only while inspected: an actor sent exactly the events stored, so its inspection is truthful. */
  private readonly mirror: Actor<typeof runMachine> | undefined;
  /** The last accepted seq. */
  private seq: number;
  /** The last stored seq. */
  private storedSeq: number;
  /** Events accepted so far, stored or in the pipeline, in this attempt and before it (rebuilt from the log on takeover). */
  readonly history: RunEvent[];

  /** Accepted, waiting for the write in flight to end: they go in the next one, together. */
  private pending: Accepted[] = [];
  /** The outcome of the next write (of `pending`), and of the write in flight. */
  private next: Group | undefined;
  private inFlight: Group | undefined;
  private flushScheduled = false;
  /** A write that failed, until it is surfaced to the agent (its next call, or the run's end). */
  private failure: { err: unknown } | undefined;
  /** Transactional appends (terminal events, questions) queued or running: later calls wait behind them. */
  private chained = 0;

  constructor(
    readonly run: RunIdentity,
    readonly attempt: number,
    private readonly db: Db,
    private readonly bus: RunEventBus,
    stored: readonly RunEvent[] = [],
    private readonly onRefused: (err: IllegalEventError) => void = () => undefined,
    /** Aborts waiting out a database outage (the attempt is being stopped). */
    private readonly stopSignal?: AbortSignal,
    private readonly observe?: RecorderTelemetry,
    inspect?: (ev: InspectionEvent) => void,
  ) {
    let snap = initialRunSnapshot();
    for (const e of stored) {
      const next = stepRun(snap, toMachineEvent(e as RunEventBody));
      if (!next) throw new IllegalEventError(e.type, snap.value, refusalReason(snap, toMachineEvent(e as RunEventBody)));
      snap = next;
    }
    this.snapshot = snap;
    this.storedSnapshot = snap;
    this.seq = stored.length;
    this.storedSeq = stored.length;
    this.history = [...stored];
    if (inspect) this.mirror = createActor(runMachine, { snapshot: runMachine.getPersistedSnapshot(snap), inspect }).start();
  }

  /** The attempt is over: the mirror actor (if any) stops. */
  close(): void {
    this.mirror?.stop();
  }

  get lastSeq(): number {
    return this.seq;
  }

  get state(): RunSnapshot['value'] {
    return this.snapshot.value;
  }

  /** The run statechart's context: open tool calls and the output streamed so far. */
  get context(): RunSnapshot['context'] {
    return this.snapshot.context;
  }

  /** This attempt stored the terminal event (and with it, in the same transaction, completed the job). */
  get endedHere(): boolean {
    return this.terminalStored;
  }

  private terminalStored = false;

  get finished(): boolean {
    return this.snapshot.status === 'done';
  }

  get started(): boolean {
    return this.seq > 0;
  }

  /** Whether the grammar would accept `body` now. */
  accepts(body: RunEventBody): boolean {
    return stepRun(this.snapshot, toMachineEvent(body)) !== undefined;
  }

  /** Transactional appends, one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * Accepts a non-terminal event and resolves at once: the statechart is consulted now (a refusal
   * rejects this call), the event gets its seq, and it is stored by the run's next write, with the
   * events accepted beside it, then announced (never before it is stored). A write that fails
   * rolls the run back to what is stored, drops what was accepted after it (none of it was sent)
   * and is surfaced by the next call, or by the terminal event's append. For an event that must
   * be stored before the agent goes on (a tool's `tool_executing`), use `append`.
   */
  record(body: RunEventBody): Promise<RunEvent> {
    if (this.chained > 0) return this.chain(() => this.accept(body).event);
    try {
      return Promise.resolve(this.accept(body).event);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * Stores one event and announces it, and resolves once it is stored. A non-terminal event goes
   * through the pipeline (`record`), in the same write as the events accepted before it. With
   * `write`, or for a terminal event, the event is stored once every earlier event is, on its own:
   * by `write` when given (terminal events: with the answer and the thread's next run, see
   * ThreadTurns.endRun; a question: in the transaction that parks the run, see `inTransaction`),
   * which must store it fenced as the append does, throw StaleAttemptError when the fence refuses
   * it, and resolve only once it is durable. It may be called again when the database was
   * unreachable.
   */
  append(body: RunEventBody, write?: EventWriter): Promise<RunEvent> {
    if (write || isTerminal(body.type)) {
      return this.chain(async () => {
        await this.drain();
        return this.appendNow(body, write);
      });
    }
    if (this.chained > 0) return this.chain(() => this.durable(this.accept(body)));
    try {
      return this.durable(this.accept(body));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** Resolves once every accepted event is stored or dropped (never rejects): the attempt's end. */
  async settled(): Promise<void> {
    await this.tail;
    while (this.next ?? this.inFlight) await (this.next ?? this.inFlight)!.promise.catch(() => undefined);
  }

  private chain<T>(op: () => T | Promise<T>): Promise<T> {
    this.chained++;
    const run = this.tail.then(op).finally(() => this.chained--);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Every accepted event stored; a failed write surfaces here if nothing surfaced it yet. */
  private async drain(): Promise<void> {
    while (this.next ?? this.inFlight) await (this.next ?? this.inFlight)!.promise.catch(() => undefined);
    this.surface();
  }

  private surface(): void {
    const f = this.failure;
    if (!f) return;
    this.failure = undefined;
    throw f.err;
  }

  private async durable(a: { event: RunEvent; stored: Promise<void> }): Promise<RunEvent> {
    try {
      await a.stored;
    } catch (err) {
      if (this.failure?.err === err) this.failure = undefined; // surfaced here
      throw err;
    }
    return a.event;
  }

  /** Consults the statechart and queues the event for the run's next write. */
  private accept(body: RunEventBody): { event: RunEvent; stored: Promise<void> } {
    this.surface();
    const { event, json, next } = this.check(body);
    if (isTerminal(event.type)) throw new Error(`${event.type} is stored by its own transaction (append)`);
    this.snapshot = next;
    this.seq = event.seq;
    this.history.push(event);
    this.pending.push({ event, json, snapshot: next });
    this.next ??= group();
    const stored = this.next.promise;
    this.scheduleFlush();
    return { event, stored };
  }

  /**
   * The write starts once the agent's current burst of calls is accepted (after the microtasks
   * now queued), so a thought and the tool call after it share a write. No timer: at most a turn
   * of the event loop, and only while no write of this run is in flight.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled || this.inFlight) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** One write of this run in flight at a time: its events' fences need the earlier ones stored. */
  private flush(): void {
    if (this.inFlight || this.pending.length === 0) return;
    const events = this.pending;
    const done = this.next!;
    this.pending = [];
    this.next = undefined;
    this.inFlight = done;
    void this.write(events, done);
  }

  private async write(events: Accepted[], done: Group): Promise<void> {
    try {
      // While the database is away the run waits here; when it returns, the write either goes
      // through or finds that another attempt took the run over (StaleAttemptError).
      await retryWhileUnreachable(
        () => appendBatcher(this.db).appendRun(events.map((a) => ({ event: a.event, attempt: this.attempt, json: a.json }))),
        this.stopSignal,
      );
    } catch (err) {
      // Nothing of this write is stored, so nothing accepted after it may be: the run goes back
      // to what is stored, and the agent hears of it at its next call (or the run's end).
      const dropped = this.next;
      this.pending = [];
      this.next = undefined;
      this.snapshot = this.storedSnapshot;
      this.seq = this.storedSeq;
      this.history.length = this.storedSeq;
      this.failure = { err };
      this.inFlight = undefined;
      done.reject(err);
      dropped?.reject(err);
      return;
    }
    for (const a of events) this.stored(a.event, a.json, a.snapshot);
    this.inFlight = undefined;
    done.resolve();
    if (this.pending.length > 0) this.scheduleFlush();
  }

  /** A transactional (or terminal) append, once every earlier event is stored. */
  private async appendNow(body: RunEventBody, write?: EventWriter): Promise<RunEvent> {
    const { event, json, next } = this.check(body);
    const finalStatus = isTerminal(event.type) ? statusForTerminal[event.type as TerminalType] : undefined;
    const record: RecordToStore = { event, attempt: this.attempt, json, finalStatus };
    // While the database is away the run waits here; when it returns, the append either goes
    // through or finds that another attempt took the run over (StaleAttemptError).
    await retryWhileUnreachable(() => (write ? write(record) : appendEvent(this.db, record)), this.stopSignal);
    this.snapshot = next;
    this.seq = event.seq;
    if (finalStatus) this.terminalStored = true;
    this.history.push(event);
    this.stored(event, json, next);
    return event;
  }

  /** The event with its seq, and the statechart after it; throws IllegalEventError if refused. */
  private check(body: RunEventBody): { event: RunEvent; json: string; next: RunSnapshot } {
    // Agents, tools and models may produce NUL or lone surrogates: replaced before anything sees them.
    const { value: event, json } = storableJson({
      ...body,
      runId: this.run.runId,
      threadId: this.run.threadId,
      seq: this.seq + 1,
      ts: new Date().toISOString(),
    } as RunEvent);
    const machineEvent = toMachineEvent(event as RunEventBody);
    const next = stepRun(this.snapshot, machineEvent);
    if (!next) {
      const by = 'agent' in body && body.type !== 'agent_started' ? body.agent : undefined;
      const err = new IllegalEventError(body.type, this.snapshot.value, refusalReason(this.snapshot, machineEvent), by);
      this.onRefused(err);
      throw err;
    }
    return { event, json, next };
  }

  /** The event is stored: it becomes the rollback point, and is announced. */
  private stored(event: RunEvent, json: string, snapshot: RunSnapshot): void {
    this.storedSnapshot = snapshot;
    this.storedSeq = event.seq;
    this.mirror?.send(toMachineEvent(event as RunEventBody));
    const stored: StoredEvent = { event, json };
    const o = this.observe;
    if (o) {
      o.telemetry.eventStored(event, o.acceptedAt);
      if (o.span.isRecording()) {
        o.span.addEvent(event.type, {
          [ATTR.seq]: event.seq,
          ...('toolCallId' in event ? { [ATTR.toolCallId]: event.toolCallId } : {}),
        });
        if (event.seq === 1 || isTerminal(event.type)) stored.trace = o.span.spanContext();
      }
    }
    try {
      this.bus.publish(this.run.userId, stored);
    } catch {
      // Delivery is repaired from the log; a failure to announce must not fail a stored event.
    }
  }
}
