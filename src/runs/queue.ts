// Runs are durable pg-boss jobs. The job is sent in the transaction that stores the run, so a
// run exists exactly when its job does. pg-boss polls; the worker is woken directly instead.
import PgBoss from 'pg-boss';
import type { Logger } from '../log/logger.js';
import type { Db, Queryable, Row } from '../store/db.js';

export const RUN_QUEUE = 'agentwire-runs';

/**
 * A CTE for `claimRun`: moves the run's job from created to active, as pg-boss's own fetch would,
 * so a worker that claims a run it was handed directly (accepted on this node) never fetches it.
 * It writes pg-boss's table (schema `pgboss`, pg-boss 10, pinned exactly in package.json): the
 * columns are those of its fetch, and tests/integration/queue-handoff.test.ts fails if they change.
 */
export const QUEUE_JOB_TAKE = `WITH job AS (
  UPDATE pgboss.job SET state = 'active', started_on = now()
  WHERE name = '${RUN_QUEUE}' AND id = $1::uuid AND state < 'active'
) `;

export interface RunJob {
  runId: string;
}

/** pg-boss's `db` option over our `Db`: parameterless SQL (its schema scripts) goes the simple path. */
function bossDb(q: Queryable): PgBoss.Db {
  return {
    async executeSql(text: string, values?: unknown[]): Promise<{ rows: Row[] }> {
      if (!values || values.length === 0) return { rows: await q.simple(text) };
      return { rows: await q.query(text, values) };
    },
  };
}

export class RunQueue {
  private readonly boss: PgBoss;
  private started = false;

  constructor(
    db: Db,
    private readonly log: Logger,
    private readonly options: { expireInSeconds: number },
  ) {
    this.boss = new PgBoss({
      db: bossDb(db),
      schema: 'pgboss',
      // Cron is not used; maintenance (expiry, archiving) is.
      schedule: false,
      supervise: true,
      maintenanceIntervalSeconds: 60,
      monitorStateIntervalSeconds: 60,
    });
    this.boss.on('error', (err: Error) => this.log.warn({ err: err.message }, 'queue maintenance error'));
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.boss.start();
    const existing = await this.boss.getQueue(RUN_QUEUE);
    if (!existing) {
      await this.boss.createQueue(RUN_QUEUE, {
        name: RUN_QUEUE,
        retryLimit: 5,
        retryDelay: 1,
        expireInSeconds: this.options.expireInSeconds,
      });
    }
    this.started = true;
  }

  /**
   * Sends the run's job inside the caller's transaction. The job's id is the run's id: whichever
   * worker finishes the run (its first one, or one that took it over) completes the job by it.
   */
  async sendInTx(tx: Queryable, runId: string): Promise<void> {
    await this.boss.send(RUN_QUEUE, { runId }, { id: runId, db: bossDb(tx), expireInSeconds: this.options.expireInSeconds });
  }

  async fetch(max: number): Promise<RunJob[]> {
    const jobs = await this.boss.fetch<{ runId: string }>(RUN_QUEUE, { batchSize: max });
    return jobs.map((j) => ({ runId: j.data.runId }));
  }

  /** Completes the run's job in the caller's transaction (the one storing the terminal event): one commit fewer per run. */
  async completeInTx(tx: Queryable, runId: string): Promise<void> {
    await this.boss.complete(RUN_QUEUE, runId, {}, { db: bossDb(tx) });
  }

  /** Completes the run's job (a no-op if it is not active). */
  async complete(runId: string): Promise<void> {
    await this.boss.complete(RUN_QUEUE, runId);
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
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: false, wait: true, close: false });
  }
}
