// Fetches run jobs and executes them, up to `concurrency` at once. Woken directly when a run is
// accepted on this node (no waiting for pg-boss's polling interval); polls as a safety net.
import type { Logger } from '../log/logger.js';
import type { RunEvent } from '../protocol/events.js';
import type { Db } from '../store/db.js';
import { readEvents } from '../store/event-log.js';
import { claimRun } from '../store/runs.js';
import type { RunEventBus } from './bus.js';
import { executeRun, RunAborted, type ExecutorDeps } from './executor.js';
import type { RunJob, RunQueue } from './queue.js';
import { RunRecorder, type IllegalEventError } from './recorder.js';

export interface WorkerOptions {
  concurrency: number;
  pollIntervalMs: number;
}

export class RunWorker {
  private readonly inflight = new Map<string, AbortController>();
  private readonly tasks = new Set<Promise<void>>();
  private running = false;
  private wakeRequested = false;
  private wakeUp: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  /** Count of events the run statechart refused (a bug indicator). */
  refusedEvents = 0;

  constructor(
    private readonly db: Db,
    private readonly queue: RunQueue,
    private readonly bus: RunEventBus,
    private readonly deps: ExecutorDeps,
    private readonly log: Logger,
    private readonly options: WorkerOptions,
  ) {}

  get activeRuns(): number {
    return this.inflight.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Fetch now: a run was accepted or a slot freed up. */
  wake(): void {
    this.wakeRequested = true;
    this.wakeUp?.();
  }

  /** Aborts a run executing here; false when it is not executing on this node. */
  abort(runId: string, reason: string): boolean {
    const ctl = this.inflight.get(runId);
    if (!ctl) return false;
    ctl.abort(new RunAborted(reason));
    return true;
  }

  /** Stops fetching; aborts what runs when `abortRunning`, then waits for every run to settle. */
  async stop(opts: { abortRunning: boolean; reason?: string } = { abortRunning: true }): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loopDone;
    if (opts.abortRunning) for (const ctl of this.inflight.values()) ctl.abort(new RunAborted(opts.reason ?? 'server shutting down'));
    await Promise.allSettled([...this.tasks]);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.wakeRequested = false;
      const room = this.options.concurrency - this.inflight.size;
      let fetched = 0;
      if (room > 0) {
        try {
          const jobs = await this.queue.fetch(room);
          fetched = jobs.length;
          for (const job of jobs) this.dispatch(job);
        } catch (err) {
          this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'fetching runs failed');
        }
      }
      if (!this.running) break;
      // A full page means more may be waiting: fetch again at once.
      if (room > 0 && fetched === room) continue;
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

  private dispatch(job: RunJob): void {
    const task = this.process(job)
      .catch((err: unknown) => this.log.error({ runId: job.runId, err: err instanceof Error ? err.message : String(err) }, 'run job failed'))
      .finally(() => {
        this.tasks.delete(task);
        this.wake();
      });
    this.tasks.add(task);
  }

  private async process(job: RunJob): Promise<void> {
    const run = await claimRun(this.db, job.runId);
    if (!run) {
      // Finished already (e.g. cancelled while it waited): nothing to execute.
      await this.queue.complete(job.id);
      return;
    }
    const ctl = new AbortController();
    this.inflight.set(run.id, ctl);
    try {
      if (run.cancel_reason) ctl.abort(new RunAborted(run.cancel_reason));
      const stored = (await readEvents(this.db, run.id, 0, 100_000)).map((s) => s.event as RunEvent);
      const recorder = new RunRecorder(
        { runId: run.id, threadId: run.thread_id, userId: run.user_id },
        run.attempt,
        this.db,
        this.bus,
        stored,
        (err: IllegalEventError) => {
          this.refusedEvents++;
          this.log.error({ runId: run.id, err: err.message }, 'run statechart refused an event');
        },
      );
      if (!recorder.finished) await executeRun(this.deps, run, recorder, ctl.signal);
      await this.queue.complete(job.id);
    } finally {
      this.inflight.delete(run.id);
    }
  }
}
