// Records one run's events: consults the run statechart, stores, then announces. The seq is
// assigned here, inside the run's own serialised append (one worker attempt at a time, fenced).
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

export class RunRecorder {
  private snapshot: RunSnapshot;
  /** Only while inspected: an actor sent exactly the events stored, so its inspection is truthful. */
  private readonly mirror: Actor<typeof runMachine> | undefined;
  private seq: number;
  /** Events stored so far in this attempt and before it (rebuilt from the log on takeover). */
  readonly history: RunEvent[];

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
    this.seq = stored.length;
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

  /** Appends one at a time, in call order, even when an agent makes calls concurrently. */
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * Stores one event and announces it. With `write` the event is stored by that writer instead of
   * the recorder's append (terminal events: with the answer and the thread's next run, see
   * ThreadTurns.endRun): it must store the event fenced as the append does, throw
   * StaleAttemptError when the fence refuses it, and resolve only once it is durable. It may be
   * called again when the database was unreachable.
   */
  append(body: RunEventBody, write?: EventWriter): Promise<RunEvent> {
    const next = this.tail.then(() => this.appendNow(body, write));
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async appendNow(body: RunEventBody, write?: EventWriter): Promise<RunEvent> {
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
    const finalStatus = isTerminal(event.type) ? statusForTerminal[event.type as TerminalType] : undefined;
    const record: RecordToStore = { event, attempt: this.attempt, json, finalStatus };
    // While the database is away the run waits here; when it returns, the append either goes
    // through or finds that another attempt took the run over (StaleAttemptError).
    await retryWhileUnreachable(
      () =>
        write
          ? write(record)
          : finalStatus
            ? appendEvent(this.db, record)
            : appendBatcher(this.db).append(record),
      this.stopSignal,
    );
    this.snapshot = next;
    this.seq = event.seq;
    if (finalStatus) this.terminalStored = true;
    this.history.push(event);
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
        if (event.seq === 1 || finalStatus) stored.trace = o.span.spanContext();
      }
    }
    try {
      this.bus.publish(this.run.userId, stored);
    } catch {
      // Delivery is repaired from the log; a failure to announce must not fail a stored event.
    }
    return event;
  }
}
