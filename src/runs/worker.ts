// Executes runs, up to `concurrency` at once, and keeps them alive across worker deaths:
// - fetches run jobs (woken directly when a run is queued, polling only as a safety net);
// - holds a lease on each run it executes and renews it; a run whose lease is lost is stopped;
// - takes over runs whose lease lapsed (their worker died), rebuilding them from the log;
// - on shutdown, hands its runs back (releases their leases) for another worker or the next start.
import { isTerminal, statusForTerminal, type RunEvent, type TerminalType } from '../protocol/events.js';
import type { Logger } from '../log/logger.js';
import type { Db } from '../store/db.js';
import { readEvents } from '../store/event-log.js';
import { claimRun, getRun, lapsedRuns, releaseLease, renewLeases, settleFinishedRun, type ClaimedRun, type Lease } from '../store/runs.js';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ATTR, fromTraceparent, SPAN, Telemetry, withRemoteParent } from '../telemetry/index.js';
import type { RunEventBus } from './bus.js';
import { executeRun, RunAborted, type ExecutorDeps, type Outcome } from './executor.js';
import { QUEUE_JOB_TAKE, type RunQueue } from './queue.js';
import { retryWhileUnreachable } from '../store/retry.js';
import { RunRecorder, type IllegalEventError, type RunInspector } from './recorder.js';

export interface WorkerOptions {
  concurrency: number;
  pollIntervalMs: number;
  nodeId: string;
  leaseMs: number;
  telemetry?: Telemetry;
  /** The statechart visualizer's live feed, when it is on. */
  inspector?: RunInspector;
}

interface Inflight {
  controller: AbortController;
  attempt: number;
}

export interface WorkerStats {
  refusedEvents: number;
  takeovers: number;
  outcomes: Record<Outcome, number>;
}

export class RunWorker {
  private readonly inflight = new Map<string, Inflight>();
  private readonly tasks = new Set<Promise<void>>();
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
    outcomes: { completed: 0, failed: 0, cancelled: 0, handedOver: 0, superseded: 0 },
  };

  constructor(
    private readonly db: Db,
    private readonly queue: RunQueue,
    private readonly bus: RunEventBus,
    private readonly deps: ExecutorDeps,
    private readonly log: Logger,
    private readonly options: WorkerOptions,
  ) {
    this.lease = { owner: options.nodeId, ms: options.leaseMs };
    this.telemetry = options.telemetry ?? Telemetry.off();
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
   * A run was queued on this node: claim it directly (with its job, in one statement) instead of
   * fetching it from the queue. False when there is no room here; then the queue decides who runs it.
   */
  offer(runId: string): boolean {
    if (!this.running || this.tasks.size >= this.options.concurrency || this.inflight.has(runId)) return false;
    this.spawn(runId, () => retryWhileUnreachable(() => claimRun(this.db, runId, this.lease, QUEUE_JOB_TAKE), this.stopping.signal));
    return true;
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
    await this.loopDone;
    for (const f of this.inflight.values()) f.controller.abort(new RunAborted('handover', 'the worker is shutting down'));
    await Promise.allSettled([...this.tasks]);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.wakeRequested = false;
      const room = this.options.concurrency - this.tasks.size;
      let fetched = 0;
      if (room > 0) {
        try {
          // Whatever is queued after this point wakes the loop again.
          this.backlog = false;
          const jobs = await this.queue.fetch(room);
          fetched = jobs.length;
          if (fetched === room) this.backlog = true;
          for (const job of jobs) this.spawn(job.runId, () => retryWhileUnreachable(() => claimRun(this.db, job.runId, this.lease), this.stopping.signal));
        } catch (err) {
          this.log.warn({ err: errText(err) }, 'fetching runs failed');
        }
      }
      if (!this.running) break;
      if (room > 0 && fetched === room) continue; // more may be waiting
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

  /** Takes over runs whose worker died (lease lapsed). */
  private async reap(): Promise<void> {
    const room = this.options.concurrency - this.tasks.size;
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
      this.log.warn({ err: errText(err) }, 'scanning for lapsed runs failed');
    }
  }

  private async renew(): Promise<void> {
    if (this.inflight.size === 0) return;
    const held = [...this.inflight.entries()].map(([runId, f]) => ({ runId, attempt: f.attempt }));
    let rows;
    try {
      rows = await renewLeases(this.db, this.lease, held);
    } catch (err) {
      // Unknown while the database is away: keep running; the appends wait, fencing decides later.
      this.log.warn({ err: errText(err) }, 'renewing leases failed');
      return;
    }
    const kept = new Map(rows.map((r) => [r.id, r.cancel_reason]));
    for (const { runId, attempt } of held) {
      const f = this.inflight.get(runId);
      if (!f || f.attempt !== attempt) continue;
      if (!kept.has(runId)) f.controller.abort(new RunAborted('superseded', 'another worker holds this run now'));
      else {
        const cancel = kept.get(runId);
        if (cancel) f.controller.abort(new RunAborted('cancel', cancel));
      }
    }
  }

  private spawn(runId: string, claim: () => Promise<ClaimedRun | undefined>): void {
    const task = this.process(runId, claim)
      .catch((err: unknown) => this.log.error({ runId, err: errText(err) }, 'run attempt failed'))
      .finally(() => {
        this.tasks.delete(task);
        if (this.backlog) this.nudge();
      });
    this.tasks.add(task);
  }

  private async process(runId: string, claim: () => Promise<ClaimedRun | undefined>): Promise<void> {
    const run = await claim();
    if (run && !this.running) {
      // Claimed while stopping: hand it straight back.
      await releaseLease(this.db, run.id, this.lease.owner, run.attempt);
      return;
    }
    if (!run) {
      // Finished, or held by a live worker that completes its job itself.
      const current = await getRun(this.db, runId);
      if (!current || !['pending', 'queued', 'running'].includes(current.status)) await this.queue.complete(runId);
      return;
    }
    const controller = new AbortController();
    this.inflight.set(run.id, { controller, attempt: run.attempt });
    let outcome: Outcome = 'superseded';
    let endedHere = false;
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
      const stored = run.last_seq === 0 ? [] : (await readEvents(this.db, run.id, 0, 100_000)).map((s) => s.event as RunEvent);
      recorder = new RunRecorder(
        { runId: run.id, threadId: run.thread_id, userId: run.user_id },
        run.attempt,
        this.db,
        this.bus,
        stored,
        (err: IllegalEventError) => {
          this.stats.refusedEvents++;
          this.log.error({ runId: run.id, err: err.message }, 'run statechart refused an event');
          inspector?.refused(run.id, err.eventType, err.state);
        },
        controller.signal,
        { telemetry: t, span, acceptedAt: new Date(run.created_at).getTime() },
        inspector?.inspect({ runId: run.id, userId: run.user_id, agent: run.agent, attempt: run.attempt }),
      );
      const last = stored[stored.length - 1];
      if (last && isTerminal(last.type)) {
        // Finished before, but its row was not updated (the finish's outcome was lost): mend it.
        await settleFinishedRun(this.db, run.id, statusForTerminal[last.type as TerminalType]);
        outcome = 'completed';
      } else {
        const runCtx = trace.setSpan(context.active(), span);
        const r = recorder;
        outcome = await context.with(runCtx, () => executeRun(this.deps, run, r, controller.signal, runCtx));
        endedHere = r.endedHere;
      }
      this.stats.outcomes[outcome]++;
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: errText(err) });
      throw err;
    } finally {
      this.inflight.delete(run.id);
      recorder?.close();
      inspector?.detached(run.id);
      if (span.isRecording()) span.setAttribute(ATTR.outcome, outcome);
      if (outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    if (outcome === 'handedOver') {
      await releaseLease(this.db, run.id, this.lease.owner, run.attempt);
      return;
    }
    // The job is the run's (job id = run id): whoever finishes the run completes it, in the
    // terminal event's transaction when this attempt stored it.
    if (outcome !== 'superseded' && !endedHere) await this.queue.complete(run.id);
  }
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));
