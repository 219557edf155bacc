// Accepting, cancelling, acking and reading runs. Ownership is checked through ./access.ts: what
// is not the caller's is `not_found`, whether it exists or not.
import { randomUUID } from 'node:crypto';
import type { AgentRegistry } from '../agents/registry.js';
import type { AgentRequestFrame, ProvideInputFrame } from '../protocol/frames.js';
import { ACTIVE_STATUSES, type SessionReadyFrame } from '../protocol/events.js';
import { AppError, badRequest } from '../protocol/errors.js';
import { lockOwnThreadFor, ownRun } from './access.js';
import { acceptBatcher } from '../store/accept-batcher.js';
import type { Db } from '../store/db.js';
import { insertNewThreadRun, insertRun } from '../store/run-status.js';
import { readEvents, terminalEvent, type StoredEvent } from '../store/event-log.js';
import { activeRunsOfThread, type RunRow } from '../store/runs.js';
import { dbNow, sessionRuns, upsertAck } from '../store/sessions.js';
import { findRequestKey, insertRequestKey } from '../store/request-keys.js';
import { insertMessage } from '../store/messages.js';
import { touchThread } from '../store/threads.js';
import type { Telemetry } from '../telemetry/index.js';
import type { RunBus } from './bus.js';
import { cancelRun, type CancelDeps } from './cancel.js';
import type { PreparedHandoff } from './handoff.js';
import type { ThreadScheduler } from './scheduler.js';
import { Waits } from './waits.js';

export interface Accepted {
  runId: string;
  threadId: string;
}

class DuplicateRequest extends Error {}

export interface RunServiceDeps {
  db: Db;
  /** Stored events and accepted runs go out here (an accepted run: the user's sessions carry it). */
  bus: RunBus;
  /** Where a run goes once stored, whose turn a thread is, and stopping a run where it executes. */
  scheduler: ThreadScheduler;
  agents: AgentRegistry;
  defaultAgent: string;
  onInterruptFailed?(runId: string, err: unknown): void;
  /** INPUT_TIMEOUT_MS, for the message of `input_timeout`. */
  inputTimeoutMs?: number | undefined;
  telemetry?: Telemetry;
}

const titleOf = (text: string) => {
  const line = text.trim().split('\n')[0] ?? '';
  // Not between the two halves of a surrogate pair (an emoji): half of one cannot be stored.
  return line.length > 80 ? `${line.slice(0, 77).replace(/[\uD800-\uDBFF]$/, '')}…` : line;
};

export class RunService {
  /** Runs waiting for their user: the answer, and their end while they wait. */
  readonly waits: Waits;
  private readonly cancels: CancelDeps;

  constructor(private readonly d: RunServiceDeps) {
    this.waits = new Waits({
      db: d.db,
      bus: d.bus,
      scheduler: d.scheduler,
      inputTimeoutMs: d.inputTimeoutMs,
      ...(d.telemetry ? { telemetry: d.telemetry } : {}),
    });
    this.cancels = { db: d.db, bus: d.bus, scheduler: d.scheduler, waits: this.waits, telemetry: d.telemetry };
  }

  /** `provide_input`: the user's answer to a waiting run's question (./waits.ts). */
  provideInput(userId: string, f: ProvideInputFrame): Promise<void> {
    return this.waits.answer(userId, f);
  }

  /**
   * Stores the run and its user message. When this node's worker has a free slot, the run is
   * stored claimed by it (running, attempt 1, its lease) and starts at once, with no claim and no
   * queue job; otherwise it is queued with a pg-boss job that any worker fetches. A run whose
   * thread is busy waits (`pending`, no job) for its turn (the scheduler's `promoteNext`).
   * `traceContext`: the accepting request's traceparent, stored with the run for its worker.
   */
  async accept(userId: string, f: AgentRequestFrame, traceContext: string | null = null): Promise<Accepted> {
    const agent = f.agent ?? this.d.defaultAgent;
    if (!this.d.agents.agent(agent)) throw badRequest(`unknown agent ${JSON.stringify(agent)}`);
    const handoff = this.d.scheduler.prepare();
    // No lookup of the request key first: a repeated requestId is rare, and the key's insert below
    // (which conflicts, rolls back, and answers the first run) covers it in the same round trips.
    let result: { accepted: Accepted; interrupt: RunRow[] };
    try {
      result = f.threadId === undefined ? await this.acceptNewThread(userId, f, agent, traceContext, handoff) : await this.acceptOnThread(userId, f, f.threadId, agent, traceContext, handoff);
    } catch (err) {
      handoff.abandoned();
      if (err instanceof DuplicateRequest) {
        const again = await findRequestKey(this.d.db, userId, f.requestId);
        if (again) return { runId: again.run_id, threadId: again.thread_id };
      }
      throw err;
    }
    this.d.telemetry?.runsAccepted.inc();
    this.d.bus.accepted(userId, result.accepted.runId);
    handoff.committed();
    // The new run is accepted whatever happens here; a cancel that fails is logged, and the new
    // run then waits its turn behind the old one (onBusy enqueue). Newest first: the waiting runs
    // end before the running one, whose end would otherwise give the thread to one of them.
    for (const run of [...result.interrupt].reverse()) {
      await cancelRun(this.cancels, run, 'interrupted by a newer request').catch((err: unknown) => this.d.onInterruptFailed?.(run.id, err));
    }
    return result.accepted;
  }

  /**
   * The common case, a new thread: nothing can be busy. Claimed here, it is one statement and no
   * transaction, grouped with the other users' accepts that arrive while one is being written
   * (../store/accept-batcher.ts). Queued, it is a transaction with its pg-boss job.
   */
  private async acceptNewThread(userId: string, f: AgentRequestFrame, agent: string, traceContext: string | null, handoff: PreparedHandoff) {
    const runId = randomUUID();
    const threadId = randomUUID();
    const row = {
      userId,
      requestId: f.requestId,
      runId,
      threadId,
      title: titleOf(f.input.text),
      agent,
      text: f.input.text,
      messageId: randomUUID(),
      traceContext,
    };
    const lease = handoff.lease;
    const run = lease
      ? await acceptBatcher(this.d.db).store({ ...row, claim: lease })
      : await this.d.db.transaction(async (tx) => {
          const stored = await insertNewThreadRun(tx, row);
          if (stored) await this.d.scheduler.queueInTx(tx, runId);
          return stored;
        });
    if (!run) throw new DuplicateRequest();
    handoff.stored(run);
    return { accepted: { runId, threadId }, interrupt: [] };
  }

  private async acceptOnThread(userId: string, f: AgentRequestFrame, threadId: string, agent: string, traceContext: string | null, handoff: PreparedHandoff) {
    return this.d.db.transaction(async (tx) => {
      const runId = randomUUID();
      await lockOwnThreadFor(tx, userId, threadId);
      if (!(await insertRequestKey(tx, { userId, requestId: f.requestId, runId, threadId }))) throw new DuplicateRequest();
      const active = await activeRunsOfThread(tx, threadId);
      const onBusy = f.onBusy ?? 'reject';
      if (active.length > 0 && onBusy === 'reject') {
        throw new AppError('thread_busy', 'the thread has an active run; send onBusy "enqueue" or "interrupt", or wait');
      }
      const input = { text: f.input.text };
      if (active.length > 0) {
        await insertRun(tx, { id: runId, threadId, userId, agent, input, status: 'pending', traceContext });
      } else if (handoff.lease) {
        handoff.stored(await insertRun(tx, { id: runId, threadId, userId, agent, input, status: 'running', traceContext, claim: handoff.lease }));
      } else {
        handoff.stored(await insertRun(tx, { id: runId, threadId, userId, agent, input, status: 'queued', traceContext }));
        await this.d.scheduler.queueInTx(tx, runId);
      }
      await insertMessage(tx, { id: randomUUID(), threadId, runId, role: 'user', content: f.input.text });
      await touchThread(tx, threadId);
      return { accepted: { runId, threadId }, interrupt: onBusy === 'interrupt' ? active : [] };
    });
  }

  /**
   * Ends the run with `agent_cancelled`. For a finished run, returns its terminal event (the
   * protocol answers a cancel of a finished run with it).
   */
  async cancel(userId: string, runId: string): Promise<StoredEvent | undefined> {
    const run = await ownRun(this.d.db, userId, runId);
    if (!ACTIVE_STATUSES.includes(run.status)) return terminalEvent(this.d.db, run.id);
    await cancelRun(this.cancels, run, 'cancelled by user');
    return undefined;
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
      runs: rows.map((r) => ({
        runId: r.id,
        threadId: r.thread_id,
        status: r.status,
        lastSeq: r.last_seq,
        ackedSeq: r.acked_seq,
        ...(r.waiting_for ? { waiting: r.waiting_for } : {}),
      })),
      asOf,
    };
  }
}

