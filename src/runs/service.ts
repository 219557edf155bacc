// Accepting, cancelling, acking and reading runs. Ownership is checked through ./access.ts: what
// is not the caller's is `not_found`, whether it exists or not.
import { randomUUID } from 'node:crypto';
import type { AgentRegistry } from '../agents/registry.js';
import type { AgentRequestFrame } from '../protocol/frames.js';
import { ACTIVE_STATUSES, type RunEvent, type SessionReadyFrame } from '../protocol/events.js';
import { AppError, badRequest } from '../protocol/errors.js';
import { lockOwnThreadFor, ownRun } from './access.js';
import type { Db, Queryable } from '../store/db.js';
import { appendUnstartedTerminal, readEvents, terminalEvent, type StoredEvent } from '../store/event-log.js';
import {
  activeRunsOfThread,
  dbNow,
  findRequestKey,
  insertMessage,
  insertNewThreadRun,
  insertRequestKey,
  insertRun,
  nextPendingRun,
  sessionRuns,
  lockThread,
  promotePending,
  touchThread,
  upsertAck,
  type RunRow,
} from '../store/runs.js';
import type { Telemetry } from '../telemetry/index.js';
import type { RunEventBus } from './bus.js';
import type { RunQueue } from './queue.js';

export interface Accepted {
  runId: string;
  threadId: string;
}

class DuplicateRequest extends Error {}

export interface RunServiceDeps {
  db: Db;
  queue: RunQueue;
  bus: RunEventBus;
  agents: AgentRegistry;
  defaultAgent: string;
  /** A run was queued: wake the workers (this node's at once, others by notification). */
  wakeWorker(): void;
  /** A run this node accepted is queued: a local worker with room claims it directly, or the queue wakes one. */
  runQueued(runId: string): void;
  /** Cancels a run wherever it executes: this node's worker at once, others by notification. */
  abortRun(runId: string, reason: string): void;
  /** Told when a run of a user is accepted (the session statechart tracks it). */
  onAccepted?(userId: string, runId: string): void;
  onInterruptFailed?(runId: string, err: unknown): void;
  telemetry?: Telemetry;
}

const titleOf = (text: string) => {
  const line = text.trim().split('\n')[0] ?? '';
  // Not between the two halves of a surrogate pair (an emoji): half of one cannot be stored.
  return line.length > 80 ? `${line.slice(0, 77).replace(/[\uD800-\uDBFF]$/, '')}…` : line;
};

export class RunService {
  constructor(private readonly d: RunServiceDeps) {}

  /** `traceContext`: the accepting request's traceparent, stored with the run for its worker. */
  async accept(userId: string, f: AgentRequestFrame, traceContext: string | null = null): Promise<Accepted> {
    const agent = f.agent ?? this.d.defaultAgent;
    if (!this.d.agents.agent(agent)) throw badRequest(`unknown agent ${JSON.stringify(agent)}`);
    // No lookup of the request key first: a repeated requestId is rare, and the key's insert below
    // (which conflicts, rolls back, and answers the first run) covers it in the same round trips.
    let result: { accepted: Accepted; queued: boolean; interrupt: RunRow[] };
    try {
      result = await this.d.db.transaction(async (tx) => {
        const runId = randomUUID();
        if (f.threadId === undefined) {
          // The common case, a new thread: nothing can be busy, one statement stores it all.
          const threadId = randomUUID();
          const stored = await insertNewThreadRun(tx, {
            userId,
            requestId: f.requestId,
            runId,
            threadId,
            title: titleOf(f.input.text),
            agent,
            text: f.input.text,
            messageId: randomUUID(),
            traceContext,
          });
          if (!stored) throw new DuplicateRequest();
          await this.d.queue.sendInTx(tx, runId);
          return { accepted: { runId, threadId }, queued: true, interrupt: [] };
        }
        const threadId = f.threadId;
        await lockOwnThreadFor(tx, userId, threadId);
        if (!(await insertRequestKey(tx, { userId, requestId: f.requestId, runId, threadId }))) throw new DuplicateRequest();
        const active = await activeRunsOfThread(tx, threadId);
        const onBusy = f.onBusy ?? 'reject';
        if (active.length > 0 && onBusy === 'reject') {
          throw new AppError('thread_busy', 'the thread has an active run; send onBusy "enqueue" or "interrupt", or wait');
        }
        const queued = active.length === 0;
        await insertRun(tx, { id: runId, threadId, userId, agent, input: { text: f.input.text }, status: queued ? 'queued' : 'pending', traceContext });
        await insertMessage(tx, { id: randomUUID(), threadId, runId, role: 'user', content: f.input.text });
        await touchThread(tx, threadId);
        if (queued) await this.d.queue.sendInTx(tx, runId);
        return { accepted: { runId, threadId }, queued, interrupt: onBusy === 'interrupt' ? active : [] };
      });
    } catch (err) {
      if (err instanceof DuplicateRequest) {
        const again = await findRequestKey(this.d.db, userId, f.requestId);
        if (again) return { runId: again.run_id, threadId: again.thread_id };
      }
      throw err;
    }
    this.d.telemetry?.runsAccepted.inc();
    this.d.onAccepted?.(userId, result.accepted.runId);
    if (result.queued) this.d.runQueued(result.accepted.runId);
    // The new run is accepted whatever happens here; a cancel that fails is logged, and the new
    // run then waits its turn behind the old one (onBusy enqueue).
    for (const run of result.interrupt) {
      await this.cancelRun(run, 'interrupted by a newer request').catch((err: unknown) => this.d.onInterruptFailed?.(run.id, err));
    }
    return result.accepted;
  }

  /**
   * Ends the run with `agent_cancelled`. For a finished run, returns its terminal event (the
   * protocol answers a cancel of a finished run with it).
   */
  async cancel(userId: string, runId: string): Promise<StoredEvent | undefined> {
    const run = await ownRun(this.d.db, userId, runId);
    if (!ACTIVE_STATUSES.includes(run.status)) return terminalEvent(this.d.db, run.id);
    await this.cancelRun(run, 'cancelled by user');
    return undefined;
  }

  private async cancelRun(run: RunRow, reason: string): Promise<void> {
    if (run.last_seq === 0 && (run.status === 'pending' || run.status === 'queued')) {
      // Not started: store its whole (two-event) life here, and pass the thread on.
      const ts = new Date().toISOString();
      const base = { runId: run.id, threadId: run.thread_id, ts };
      const events: [RunEvent, RunEvent] = [
        { type: 'agent_started', ...base, seq: 1, agent: run.agent, input: run.input },
        { type: 'agent_cancelled', ...base, seq: 2, reason },
      ];
      let promoted = false;
      const done = await this.d.db.transaction(async (tx) => {
        // Thread first, then the run: the order every transaction that touches both uses.
        await lockThread(tx, run.thread_id);
        if (!(await appendUnstartedTerminal(tx, events, 'cancelled'))) return false;
        promoted = await this.promoteNext(tx, run.thread_id);
        return true;
      });
      if (done) {
        const acceptedAt = new Date(run.created_at).getTime();
        for (const e of events) {
          this.d.telemetry?.eventStored(e, acceptedAt);
          this.d.bus.publish(run.user_id, { event: e, json: JSON.stringify(e) });
        }
        if (promoted) this.d.wakeWorker();
        return;
      }
      // A worker claimed it meanwhile: cancel it as a running run.
    }
    // Remembered in the row: a worker that claims the run later (or after a crash) honours it,
    // and a worker that missed the notification learns it when it renews its lease.
    await this.d.db.query(
      `UPDATE runs SET cancel_reason = COALESCE(cancel_reason, $2) WHERE id = $1 AND status IN ('pending', 'queued', 'running')`,
      [run.id, reason],
    );
    this.d.abortRun(run.id, reason);
  }

  /**
   * Hands the thread to its oldest waiting run when no run holds it. Runs in the transaction that
   * ended the previous run. True when a run was queued.
   */
  async promoteNext(tx: Queryable, threadId: string): Promise<boolean> {
    // The thread lock orders this against `accept` (which holds it while it enqueues) and
    // against cancels: each sees what the other committed.
    await lockThread(tx, threadId);
    const next = await nextPendingRun(tx, threadId);
    if (!next) return false;
    if (!(await promotePending(tx, next.id))) return false;
    await this.d.queue.sendInTx(tx, next.id);
    return true;
  }

  async ack(userId: string, runId: string, seq: number): Promise<number> {
    const run = await ownRun(this.d.db, userId, runId);
    if (seq > run.last_seq) throw badRequest(`ack: seq ${seq} is beyond the run's last event (${run.last_seq})`);
    return upsertAck(this.d.db, run.id, seq);
  }

  /** Ownership check for `resume`: the run if it is the caller's. */
  async ownRun(userId: string, runId: string): Promise<RunRow> {
    return ownRun(this.d.db, userId, runId);
  }

  async events(userId: string, runId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const run = await this.ownRun(userId, runId);
    return readEvents(this.d.db, run.id, afterSeq, limit);
  }

  /**
   * The runs `session_ready` lists, and the database time taken before reading them: a run
   * accepted after that time started while the socket was open, so the socket carries it.
   */
  async sessionSnapshot(userId: string): Promise<{ runs: SessionReadyFrame['runs']; asOf: number }> {
    const asOf = await dbNow(this.d.db);
    const rows = await sessionRuns(this.d.db, userId);
    return {
      runs: rows.map((r) => ({ runId: r.id, threadId: r.thread_id, status: r.status, lastSeq: r.last_seq, ackedSeq: r.acked_seq })),
      asOf,
    };
  }
}

