// Executes runs, up to `concurrency` at once, and keeps them alive across worker deaths:
// - lends a free slot to a transaction that stores a run on this node (./handoff.ts): the run is
//   stored claimed by this worker and starts when it commits;
// - takes queued runs from the queue (woken when a run is queued, polling only as a safety net);
// - holds a lease on each run it executes and renews it; a run whose lease is lost is stopped;
// - takes over runs whose lease lapsed (their worker died, or an attempt failed and waited its
//   backoff), rebuilding them from the log; ends a run whose attempts are used up (./attempts.ts);
// - on shutdown, hands its runs back (releases their leases) for another worker or the next start.
import { isTerminal, statusForTerminal, type RunEvent, type TerminalType } from '../protocol/events.js';
import type { Logger } from '../log/logger.js';
import type { Db } from '../store/db.js';
import { readEvents, StaleAttemptError } from '../store/event-log.js';
import { claimQueuedRuns, claimRun, settleFinishedRun, type ClaimedRun, type Lease } from '../store/run-status.js';
import { lapsedRuns, releaseAfterFailure, releaseLease } from '../store/leases.js';
import { LeaseRenewal } from './lease-renewal.js';
import { endBatcher } from '../store/end-batcher.js';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ATTR, fromTraceparent, SPAN, Telemetry, withRemoteParent } from '../telemetry/index.js';
import type { RunEventBus } from './bus.js';
import { executeRun, RunAborted, type ExecutorDeps, type Outcome } from './executor.js';
import type { RunQueue } from './queue.js';
import { retryWhileUnreachable } from '../store/retry.js';
import { ThrottledLog } from '../log/throttled.js';
import { endExhausted, retryDelayMs } from './attempts.js';
import type { RunSlot } from './handoff.js';
import { RunRecorder, type IllegalEventError, type RunInspector } from './recorder.js';

export interface WorkerOptions {
  concurrency: number;
  pollIntervalMs: number;
  nodeId: string;
  leaseMs: number;
  /** Failed attempts a run gets before it ends with `attempts_exhausted` (RUN_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** The first retry's delay, doubled per failed attempt (RUN_RETRY_DELAY_MS). */
  retryDelayMs: number;
  telemetry?: Telemetry;
  /** The statechart visualizer's live feed, when it is on. */
  inspector?: RunInspector;
  /** Told of every event the run statechart refused (the test harness's verdict). */
  onRefused?: (refusal: Refusal) => void;
  /** Ends the waiting runs past their input deadline (INPUT_TIMEOUT_MS); run with each scan for lapsed leases. */
  expireWaits?: () => Promise<number>;
}

/** An event the run statechart refused: never stored, never sent. */
export interface Refusal {
  runId: string;
  /** The agent whose event it was (a sub-agent's name inside a sub-agent call). */
  agent: string;
  event: string;
  reason: string;
}

interface Inflight {
  controller: AbortController;
  attempt: number;
}

/** How an attempt ended here: the executor's outcome, or `retried` (it failed and the run waits for another attempt). */
export type AttemptOutcome = Outcome | 'retried';

export interface WorkerStats {
  refusedEvents: number;
  takeovers: number;
  outcomes: Record<AttemptOutcome, number>;
}

export class RunWorker {
  private readonly inflight = new Map<string, Inflight>();
  private readonly tasks = new Set<Promise<void>>();
  /** Slots lent to transactions storing a run claimed by this worker, not yet started or released. */
  private reserved = 0;
  private running = false;
  private wakeRequested = false;
  /** The queue may hold runs nobody has fetched: a freed slot then fetches at once instead of at the next poll. */
  private backlog = true;
  private wakeUp: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  private readonly lease: Lease;
  private readonly telemetry: Telemetry;
  /** Aborted when the worker stops: ends waits for the database. */
  private readonly stopping = new AbortController();
  readonly stats: WorkerStats = {
    refusedEvents: 0,
    takeovers: 0,
    outcomes: { completed: 0, failed: 0, cancelled: 0, handedOver: 0, superseded: 0, parked: 0, retried: 0 },
  };
  private readonly fetchFailures: ThrottledLog;
  private readonly reapFailures: ThrottledLog;
  private readonly renewFailures: ThrottledLog;
  private readonly renewal: LeaseRenewal;

  constructor(
    private readonly db: Db,
    private readonly queue: RunQueue,
    private readonly bus: RunEventBus,
    private readonly deps: ExecutorDeps,
    private readonly log: Logger,
    private readonly options: WorkerOptions,
  ) {
    this.lease = { owner: options.nodeId, ms: options.leaseMs };
    this.renewal = new LeaseRenewal(db, this.lease);
    this.telemetry = options.telemetry ?? Telemetry.off();
    // In an outage these fail at every poll, scan and renewal: logged once per interval.
    this.fetchFailures = new ThrottledLog(log, 'warn', 'fetching queued runs failed');
    this.reapFailures = new ThrottledLog(log, 'warn', 'scanning for lapsed runs failed');
    this.renewFailures = new ThrottledLog(log, 'warn', 'renewing leases failed');
  }

  /** Slots in use: runs executing or being claimed, and slots lent to transactions. */
  private get busy(): number {
    return this.tasks.size + this.reserved;
  }

  get activeRuns(): number {
    return this.inflight.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
    // Renew well before expiry, so one slow round trip does not lose a lease.
    this.leaseTimer = setInterval(() => void this.renew(), Math.max(200, Math.floor(this.options.leaseMs / 3)));
    const reap = () => {
      this.reapTimer = setTimeout(
        () => void this.reap().finally(() => this.running && reap()),
        // Jitter spreads the takeover scans of many workers.
        Math.floor(this.options.leaseMs / 2 + Math.random() * (this.options.leaseMs / 4)),
      );
    };
    void this.reap().finally(() => this.running && reap());
  }

  /** Fetch now: a run was queued somewhere (or may have been). */
  wake(): void {
    this.backlog = true;
    this.nudge();
  }

  private nudge(): void {
    this.wakeRequested = true;
    this.wakeUp?.();
  }

  /**
   * Lends a free slot to a transaction that stores a run on this node: the run is stored claimed
   * by this worker (its lease in the same statement) and `start`ed once committed, with no claim
   * and no queue job. Undefined when every slot is taken (the run is then queued).
   */
  reserve(): RunSlot | undefined {
    if (!this.running || this.busy >= this.options.concurrency) return undefined;
    this.reserved++;
    let used = false;
    const settle = () => {
      if (used) return false;
      used = true;
      this.reserved--;
      return true;
    };
    return {
      lease: this.lease,
      start: (run) => {
        if (settle()) this.spawn(run.id, () => Promise.resolve(run));
      },
      release: () => {
        if (settle() && this.backlog) this.nudge();
      },
    };
  }

  /** Cancels a run executing here; false when it is not executing on this node. */
  abort(runId: string, reason: string): boolean {
    const f = this.inflight.get(runId);
    if (!f) return false;
    f.controller.abort(new RunAborted('cancel', reason));
    return true;
  }

  /**
   * Stops taking work and hands running runs back: each is stopped without a terminal event and
   * its lease released, so another worker (or this one after a restart) continues it.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort(new RunAborted('handover', 'the worker is shutting down'));
    this.wakeUp?.();
    clearInterval(this.leaseTimer);
    clearTimeout(this.reapTimer);
    for (const t of [this.fetchFailures, this.reapFailures, this.renewFailures]) t.stop();
    await this.loopDone;
    for (const f of this.inflight.values()) f.controller.abort(new RunAborted('handover', 'the worker is shutting down'));
    await Promise.allSettled([...this.tasks]);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.wakeRequested = false;
      const room = this.options.concurrency - this.busy;
      let taken = 0;
      if (room > 0) {
        try {
          // Whatever is queued after this point wakes the loop again.
          this.backlog = false;
          const runs = await this.queue.take(room, (tx, ids) => claimQueuedRuns(tx, ids, this.lease));
          taken = runs.length;
          if (taken === room) this.backlog = true;
          for (const run of runs) this.spawn(run.id, () => Promise.resolve(run));
        } catch (err) {
          // Not an empty queue: the runs stay queued, and the next poll tries again.
          this.backlog = true;
          this.fetchFailures.report(err);
        }
      }
      if (!this.running) break;
      if (room > 0 && taken === room) continue; // more may be waiting
      if (this.wakeRequested) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pollIntervalMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  /** Takes over runs whose worker died (lease lapsed), and ends waits past their deadline. */
  private async reap(): Promise<void> {
    if (this.running && this.options.expireWaits) {
      // Holds no slot: a waiting run is ended in one transaction, with no agent to run.
      await this.options.expireWaits().catch((err: unknown) => this.reapFailures.report(err));
    }
    const room = this.options.concurrency - this.busy;
    if (!this.running || room <= 0) return;
    try {
      const ids = (await lapsedRuns(this.db, room)).filter((id) => !this.inflight.has(id));
      for (const id of ids) {
        this.spawn(id, async () => {
          const run = await claimRun(this.db, id, this.lease);
          if (run) {
            this.stats.takeovers++;
            this.log.info({ runId: id, attempt: run.attempt }, 'took over a run whose lease lapsed');
          }
          return run;
        });
      }
    } catch (err) {
      this.reapFailures.report(err);
    }
  }

  private async renew(): Promise<void> {
    if (this.inflight.size === 0 || this.renewal.busy) return;
    const held = [...this.inflight.entries()].map(([runId, f]) => ({ runId, attempt: f.attempt }));
    const ends = endBatcher(this.db);
    try {
      await this.renewal.renew(held, (runId) => ends.ending(runId), (chunk, kept) => {
        for (const { runId, attempt } of chunk) {
          const f = this.inflight.get(runId);
          if (!f || f.attempt !== attempt) continue;
          if (!kept.has(runId)) f.controller.abort(new RunAborted('superseded', 'another worker holds this run now'));
          else {
            const cancel = kept.get(runId);
            if (cancel) f.controller.abort(new RunAborted('cancel', cancel));
          }
        }
      });
    } catch (err) {
      // Unknown while the database is away: keep running; the appends wait, fencing decides later.
      this.renewFailures.report(err);
    }
  }

  private spawn(runId: string, claim: () => Promise<ClaimedRun | undefined>): void {
    const task = this.process(claim)
      .catch((err: unknown) => this.log.error({ runId, err }, 'run attempt failed'))
      .finally(() => {
        this.tasks.delete(task);
        if (this.backlog) this.nudge();
      });
    this.tasks.add(task);
  }

  private async process(claim: () => Promise<ClaimedRun | undefined>): Promise<void> {
    const run = await claim();
    // Finished, or held by a live worker.
    if (!run) return;
    if (!this.running) {
      // Claimed while stopping: hand it straight back.
      await releaseLease(this.db, run.id, this.lease.owner, run.attempt);
      return;
    }
    const controller = new AbortController();
    this.inflight.set(run.id, { controller, attempt: run.attempt });
    let outcome: AttemptOutcome;
    try {
      if (run.failed_attempts >= this.options.maxAttempts) {
        // Its earlier attempts lost their leases (their workers died): the limit is reached.
        this.log.error({ runId: run.id, attempt: run.attempt, failedAttempts: run.failed_attempts }, 'run attempts exhausted: its last attempts stopped holding their lease');
        outcome = await this.exhaust(run);
      } else {
        outcome = await this.attempt(run, controller).catch((err: unknown) => this.failed(run, controller.signal, err));
      }
    } finally {
      this.inflight.delete(run.id);
    }
    this.stats.outcomes[outcome]++;
    if (outcome === 'handedOver') await releaseLease(this.db, run.id, this.lease.owner, run.attempt);
  }

  /**
   * The attempt threw outside the executor's terminal handling. Unless it was stopped (handover)
   * or superseded, it failed: the run is let go with a backoff, for another attempt, or ended
   * with `attempts_exhausted` when this was its last.
   */
  private async failed(run: ClaimedRun, signal: AbortSignal, err: unknown): Promise<AttemptOutcome> {
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    if (this.stopping.signal.aborted || (reason instanceof RunAborted && reason.kind === 'handover')) return 'handedOver';
    if (err instanceof StaleAttemptError || (reason instanceof RunAborted && reason.kind === 'superseded')) return 'superseded';
    const failures = run.failed_attempts + 1;
    const fields = { runId: run.id, attempt: run.attempt, failedAttempts: failures, maxAttempts: this.options.maxAttempts };
    if (failures >= this.options.maxAttempts) {
      this.log.error({ ...fields, err }, 'run attempts exhausted: the last attempt failed');
      return this.exhaust(run);
    }
    const delay = retryDelayMs(failures, this.options.retryDelayMs);
    this.log.warn({ ...fields, retryInMs: delay, err }, 'run attempt failed; the run is tried again later');
    await retryWhileUnreachable(() => releaseAfterFailure(this.db, run.id, this.lease.owner, run.attempt, delay), this.stopping.signal);
    return 'retried';
  }

  /** Ends the run with `attempts_exhausted`, as this attempt. */
  private async exhaust(run: ClaimedRun): Promise<AttemptOutcome> {
    try {
      const stored = await retryWhileUnreachable(
        () => endExhausted({ db: this.db, bus: this.bus, turns: this.deps.turns, telemetry: this.telemetry }, run, this.options.maxAttempts),
        this.stopping.signal,
      );
      return stored ? 'failed' : 'completed';
    } catch (err) {
      if (err instanceof StaleAttemptError) return 'superseded';
      if (this.stopping.signal.aborted) return 'handedOver';
      throw err;
    }
  }

  /** One attempt: rebuilds the run from its log and executes it. Throws when it fails outside the executor's terminal handling. */
  private async attempt(run: ClaimedRun, controller: AbortController): Promise<AttemptOutcome> {
    let outcome: Outcome = 'superseded';
    // The attempt continues the accepting request's trace (stored with the run), on every attempt.
    const t = this.telemetry;
    const request = fromTraceparent(run.trace_context);
    const parent = withRemoteParent(ROOT_CONTEXT, request);
    if (run.queue_wait_ms !== null) {
      t.queueWait.observe(run.queue_wait_ms / 1000);
      if (t.tracing && request) {
        const now = Date.now();
        t.tracer
          .startSpan(SPAN.queueWait, { kind: SpanKind.INTERNAL, startTime: now - run.queue_wait_ms, attributes: { [ATTR.runId]: run.id } }, parent)
          .end(now);
      }
    }
    const span = t.tracer.startSpan(
      SPAN.run,
      t.tracing
        ? {
            kind: SpanKind.CONSUMER,
            ...(request ? { links: [{ context: request }] } : {}),
            attributes: {
              [ATTR.runId]: run.id,
              [ATTR.threadId]: run.thread_id,
              [ATTR.userId]: run.user_id,
              [ATTR.agent]: run.agent,
              [ATTR.attempt]: run.attempt,
              [ATTR.takeover]: run.attempt > 1,
            },
          }
        : {},
      parent,
    );
    const inspector = this.options.inspector;
    let recorder: RunRecorder | undefined;
    try {
      if (run.cancel_reason) controller.abort(new RunAborted('cancel', run.cancel_reason));
      // A run with nothing stored (its first attempt, nearly always) has no log to rebuild from.
      const stored =
        run.last_seq === 0 ? [] : (await retryWhileUnreachable(() => readEvents(this.db, run.id, 0, 100_000), this.stopping.signal)).map((s) => s.event as RunEvent);
      const last = stored[stored.length - 1];
      if (last && isTerminal(last.type)) {
        // Finished before, but its row was not updated (the finish's outcome was lost): mend it.
        await settleFinishedRun(this.db, run.id, statusForTerminal[last.type as TerminalType]);
        return 'completed';
      }
      recorder = new RunRecorder(
        { runId: run.id, threadId: run.thread_id, userId: run.user_id },
        run.attempt,
        this.db,
        this.bus,
        stored,
        (err: IllegalEventError) => {
          this.stats.refusedEvents++;
          const refusal: Refusal = { runId: run.id, agent: err.agent ?? run.agent, event: err.eventType, reason: err.reason };
          // An agent's bug, not the runtime's: the line names the agent, the event and why.
          this.log.error({ ...refusal, err }, `agent ${refusal.agent}: run statechart refused ${refusal.event}: ${refusal.reason}`);
          inspector?.refused(run.id, err.eventType, err.state);
          this.options.onRefused?.(refusal);
        },
        controller.signal,
        { telemetry: t, span, acceptedAt: new Date(run.created_at).getTime() },
        inspector?.inspect({ runId: run.id, userId: run.user_id, agent: run.agent, attempt: run.attempt }),
      );
      const runCtx = trace.setSpan(context.active(), span);
      const r = recorder;
      outcome = await context.with(runCtx, () => executeRun(this.deps, run, r, controller.signal, runCtx));
      return outcome;
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      // Whatever the outcome, no write of this attempt is left in flight once it is reported over.
      await recorder?.settled();
      recorder?.close();
      inspector?.detached(run.id);
      if (span.isRecording()) span.setAttribute(ATTR.outcome, outcome);
      if (outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  }
}
