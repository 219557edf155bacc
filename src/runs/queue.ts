// The queue of runs no worker has claimed yet, on pg-boss, through its public API only. A run gets
// a job (id = run id) only when no worker could claim it as it was stored: accepted while this
// node's worker had no free slot (or on a gateway), or given its thread's turn after waiting. Any
// worker fetches the job and claims the run in the same transaction, and the job is completed
// there: from the claim on, the runs table alone (lease, attempt, failed attempts) decides who
// executes the run and whether it is tried again (docs/reliability.md, "Who owns what").
import PgBoss from 'pg-boss';
import type { Logger } from '../log/logger.js';
import { ThrottledLog } from '../log/throttled.js';
import type { Db, Queryable, Row } from '../store/db.js';

export const RUN_QUEUE = 'agentwire-runs';

/** The fetch failed: pg-boss's `fetch` returns no jobs for any error, so its query's error is kept here. */
export class QueueFetchError extends Error {
  override name = 'QueueFetchError';
}

/**
 * pg-boss's `db` option over our `Queryable`. Parameterless SQL (its schema scripts) goes the
 * simple path. `failed` receives every error on the way through: pg-boss's `fetch` swallows them
 * (an outage would look like an empty queue), this is how they are seen.
 */
function bossDb(q: Queryable, failed?: (err: unknown) => void): PgBoss.Db {
  return {
    async executeSql(text: string, values?: unknown[]): Promise<{ rows: Row[] }> {
      try {
        if (!values || values.length === 0) return { rows: await q.simple(text) };
        return { rows: await q.query(text, values) };
      } catch (err) {
        failed?.(err);
        throw err;
      }
    },
  };
}

/**
 * pg-boss 10 completes several jobs as `complete(name, ids, data, options)`; its typings list the
 * array form without `data`, which its implementation would take `options` for (and then run on
 * its own connection, outside our transaction).
 */
const completeMany = (boss: PgBoss, ids: string[], options: PgBoss.ConnectionOptions) =>
  (boss.complete as unknown as (name: string, ids: string[], data: object, options: PgBoss.ConnectionOptions) => Promise<unknown>).call(
    boss,
    RUN_QUEUE,
    ids,
    {},
    options,
  );

export class RunQueue {
  private readonly boss: PgBoss;
  private started = false;
  private readonly maintenanceErrors: ThrottledLog;

  constructor(
    private readonly db: Db,
    log: Logger,
  ) {
    this.boss = new PgBoss({
      db: bossDb(db),
      schema: 'pgboss',
      // Cron is not used; maintenance (archiving completed jobs) is.
      schedule: false,
      supervise: true,
      maintenanceIntervalSeconds: 60,
      monitorStateIntervalSeconds: 60,
    });
    this.maintenanceErrors = new ThrottledLog(log, 'warn', 'queue maintenance error', 60_000);
    this.boss.on('error', (err: Error) => this.maintenanceErrors.report(err));
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.boss.start();
    // A job never stays active outside the transaction that fetches it (the claim completes it
    // there), so pg-boss's expiry and retries never apply to it.
    if (!(await this.boss.getQueue(RUN_QUEUE))) await this.boss.createQueue(RUN_QUEUE, { name: RUN_QUEUE, retryLimit: 0 });
    this.started = true;
  }

  /** Queues the run (job id = run id) inside the caller's transaction: the job exists exactly when the queued run does. */
  async sendInTx(tx: Queryable, runId: string): Promise<void> {
    const id = await this.boss.send(RUN_QUEUE, { runId }, { id: runId, db: bossDb(tx) });
    // pg-boss inserts a job whose id exists already as nothing: never silently, the run would wait forever.
    if (id === null) throw new Error(`run ${runId} has a job already: it was not queued`);
  }

  /**
   * Queues again a run that was claimed once (answered after it waited for its user). Its first
   * job, completed by that claim, keeps its id in pg-boss's table until archived (hours): it goes
   * first, in the same transaction, so the new job is not dropped as a duplicate.
   */
  async resendInTx(tx: Queryable, runId: string): Promise<void> {
    await this.boss.deleteJob(RUN_QUEUE, runId, { db: bossDb(tx) });
    await this.sendInTx(tx, runId);
  }

  /**
   * Takes up to `max` queued runs, in one transaction: fetches their jobs, lets `claim` claim the
   * runs, and completes the jobs. A job whose run is no longer queued (cancelled before it
   * started) is completed too: nothing is left to do for it. If anything fails, nothing is taken
   * (the jobs stay queued). A failing fetch throws `QueueFetchError` with the cause.
   */
  async take<T>(max: number, claim: (tx: Queryable, runIds: string[]) => Promise<T[]>): Promise<T[]> {
    return this.db.transaction(async (tx) => {
      let failure: unknown;
      const jobs = await this.boss.fetch<{ runId: string }>(RUN_QUEUE, { batchSize: max, db: bossDb(tx, (err) => (failure ??= err)) });
      if (failure !== undefined) throw new QueueFetchError('fetching queued runs failed', { cause: failure });
      if (jobs.length === 0) return [];
      const claimed = await claim(
        tx,
        jobs.map((j) => j.data.runId),
      );
      await completeMany(
        this.boss,
        jobs.map((j) => j.id),
        { db: bossDb(tx) },
      );
      return claimed;
    });
  }

  /** Cancels the job of a run cancelled before a worker took it (in the cancelling transaction). */
  async cancelInTx(tx: Queryable, runId: string): Promise<void> {
    await this.boss.cancel(RUN_QUEUE, runId, { db: bossDb(tx) });
  }

  /** The run's job as pg-boss keeps it (null: it never had one, or it was archived). */
  job(runId: string): Promise<{ state: string } | null> {
    return this.boss.getJobById(RUN_QUEUE, runId);
  }

  async ready(): Promise<boolean> {
    try {
      await this.boss.getQueue(RUN_QUEUE);
      return true;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    this.maintenanceErrors.stop();
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: false, wait: true, close: false });
  }
}
