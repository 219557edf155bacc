// Runs waiting for their user. A run that asked (`input_requested`) is parked by its worker in the
// transaction that stored the question (./executor.ts): no lease, no job, no worker, nothing in
// memory. Everything else about a waiting run happens here, each in one transaction that locks the
// thread, then the run, consults the run statechart on the stored log, and appends fenced by the
// run's attempt:
// - the answer (`provide_input`): checked, stored as `input_received`, and the run handed to a
//   worker like any run made ready (./handoff.ts), which replays it from the log;
// - its end while it waits: a cancel (`agent_cancelled`) or the input timeout (`agent_error
//   input_timeout`, found by every worker's sweep, so it fires after restarts too).
import { z } from 'zod';
import { replayRun, stepRun, type RunSnapshot } from '../../machines/run.machine.js';
import { AppError, badRequest, notFound } from '../protocol/errors.js';
import { approvalValueSchema, statusForTerminal, type RunEvent, type RunEventBody, type RunEventOf, type TerminalType } from '../protocol/events.js';
import type { ProvideInputFrame } from '../protocol/frames.js';
import type { Db, Queryable } from '../store/db.js';
import { appendEvent, readEvents, type StoredEvent } from '../store/event-log.js';
import { continueWaiting } from '../store/run-status.js';
import { expiredWaits, inputDeadlinePassed, lockRun, runToEnd, type RunRow } from '../store/runs.js';
import { lockThread, type ThreadLock } from '../store/threads.js';
import type { Telemetry } from '../telemetry/index.js';
import type { RunEventBus } from './bus.js';
import type { Handoff } from './handoff.js';
import type { ThreadScheduler } from './scheduler.js';
import { toMachineEvent } from './recorder.js';
import { ownRun } from './access.js';
import { crashPoint } from './crash-points.js';

export interface WaitsDeps {
  db: Db;
  bus: RunEventBus;
  /** The answered run's way to a worker, and the thread's next turn after a waiting run's end. */
  scheduler: ThreadScheduler;
  /** INPUT_TIMEOUT_MS, named in the timeout's message. */
  inputTimeoutMs?: number | undefined;
  telemetry?: Telemetry;
}

export const INPUT_TIMEOUT_CODE = 'input_timeout';

/** A run's stored log, the statechart rebuilt from it, and its open question. */
interface Parked {
  run: RunRow;
  events: RunEvent[];
  snapshot: RunSnapshot;
}

/** The JSON Schemas of `input` questions, compiled once each (a run's question is asked of many answers only in a race). */
const compiled = new Map<string, z.ZodType>();
const MAX_COMPILED = 1_000;

/**
 * The zod schema for an `input` question's JSON Schema: zod's own `fromJSONSchema` (no second
 * validator to ship and keep, and its issues name the field the same way as every other refusal).
 * Throws when the schema is not one zod can check.
 */
export function inputSchema(schema: Record<string, unknown>): z.ZodType {
  const key = JSON.stringify(schema);
  let s = compiled.get(key);
  if (!s) {
    s = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(key, s);
  }
  return s;
}

/** Why `value` does not answer `question`, naming the field; undefined when it does. */
export function valueProblem(question: RunEventOf<'input_requested'>, value: unknown): string | undefined {
  const schema = question.kind === 'approval' ? approvalValueSchema : question.schema ? inputSchema(question.schema) : undefined;
  if (!schema) return undefined;
  const parsed = schema.safeParse(value);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  const where = ['value', ...(issue?.path ?? []).map(String)].join('.');
  return `${where}: ${issue?.message ?? 'invalid'}`;
}

export class Waits {
  constructor(private readonly d: WaitsDeps) {}

  /**
   * Stores the user's answer and hands the run to a worker. Refusals: a run that is not the
   * caller's, or a question the run never asked, is `not_found`; a question already answered, a
   * run no longer waiting, or a value that does not answer the question is `bad_request`, saying
   * which. Two answers racing: the thread's lock orders them, the second finds the first stored.
   */
  async answer(userId: string, f: ProvideInputFrame): Promise<void> {
    const own = await ownRun(this.d.db, userId, f.runId);
    const handoff = this.d.scheduler.prepare();
    let stored: RunEvent;
    try {
      stored = await this.d.db.transaction(async (tx) => {
        const lock = await lockThread(tx, own.thread_id);
        const p = await this.parked(lock, own.id);
        const asked = p.events.find((e): e is RunEventOf<'input_requested'> => e.type === 'input_requested' && e.interruptId === f.interruptId);
        if (!asked) throw new AppError('not_found', `provide_input: interruptId ${f.interruptId} names no question of this run`);
        if (p.events.some((e) => e.type === 'input_received' && e.interruptId === f.interruptId)) {
          throw badRequest(`provide_input: interruptId ${f.interruptId} was already answered`);
        }
        if (p.run.status !== 'waiting') throw badRequest(`provide_input: the run is not waiting for input (it is ${p.run.status})`);
        const problem = valueProblem(asked, f.value);
        if (problem) throw badRequest(`provide_input: ${problem}`);
        const event = await this.append(tx, p, { type: 'input_received', interruptId: f.interruptId, value: f.value });
        const run = await continueWaiting(tx, p.run.id, handoff.lease);
        if (!run) throw new Error(`run ${p.run.id} stopped waiting inside its own lock`);
        handoff.stored(run);
        if (!handoff.lease) await this.d.scheduler.requeueInTx(tx, run.id);
        return event;
      });
    } catch (err) {
      handoff.abandoned();
      throw err;
    }
    crashPoint('wait.answered');
    this.announce(own, [stored]);
    handoff.committed();
  }

  /** Cancels a waiting run (`agent_cancelled`); false when it was not waiting. */
  cancel(run: RunRow, reason: string): Promise<boolean> {
    return this.end(run, { type: 'agent_cancelled', reason });
  }

  /** Ends the waiting runs whose input deadline passed; called by every worker's sweep. */
  async expire(limit = 100): Promise<number> {
    let ended = 0;
    for (const id of await expiredWaits(this.d.db, limit)) {
      const run = await runToEnd(this.d.db, id);
      if (!run) continue;
      const ok = await this.end(run, { type: 'agent_error', code: INPUT_TIMEOUT_CODE, message: `no answer came within the input time limit of ${this.d.inputTimeoutMs ?? 0} ms`, retryable: false }, true);
      if (ok) ended++;
    }
    return ended;
  }

  /** Stores the terminal event of a waiting run and passes its thread on; false when it was not waiting (or not due). */
  private async end(run: Pick<RunRow, 'id' | 'thread_id' | 'user_id' | 'created_at'>, body: Extract<RunEventBody, { type: TerminalType }>, onlyIfDue = false): Promise<boolean> {
    let next: Handoff | undefined;
    let stored: RunEvent | undefined;
    try {
      stored = await this.d.db.transaction(async (tx) => {
        next?.abandoned(); // a retried transaction: the earlier one rolled back
        const lock = await lockThread(tx, run.thread_id);
        const p = await this.parked(lock, run.id);
        if (p.run.status !== 'waiting') return undefined;
        if (onlyIfDue && !(await inputDeadlinePassed(tx, run.id))) return undefined;
        const event = await this.append(tx, p, body);
        next = await this.d.scheduler.promoteNext(lock);
        return event;
      });
    } catch (err) {
      next?.abandoned();
      throw err;
    }
    if (!stored) return false;
    this.announce(run, [stored]);
    next?.committed();
    return true;
  }

  /** The run locked (after its thread), its log, and the statechart rebuilt from it. */
  private async parked(lock: ThreadLock, runId: string): Promise<Parked> {
    const run = await lockRun(lock.tx, runId);
    if (!run) throw notFound('run');
    const events = run.last_seq === 0 ? [] : (await readEvents(lock.tx, run.id, 0, 100_000)).map((s) => s.event);
    const snapshot = replayRun(events.map((e) => toMachineEvent(e as RunEventBody)));
    if (!snapshot) throw new Error(`run ${run.id}: its stored log does not follow the grammar`);
    return { run, events, snapshot };
  }

  /** Appends one event as the run's current attempt, after the statechart accepted it. */
  private async append(tx: Queryable, p: Parked, body: RunEventBody): Promise<RunEvent> {
    if (!stepRun(p.snapshot, toMachineEvent(body))) throw badRequest(`the run cannot take ${body.type} now`);
    const event = { ...body, runId: p.run.id, threadId: p.run.thread_id, seq: p.run.last_seq + 1, ts: new Date().toISOString() } as RunEvent;
    const finalStatus = body.type === 'agent_error' || body.type === 'agent_cancelled' || body.type === 'agent_completed' ? statusForTerminal[body.type] : undefined;
    await appendEvent(tx, { event, attempt: p.run.attempt, json: JSON.stringify(event), ...(finalStatus ? { finalStatus } : {}) });
    return event;
  }

  /** After the commit only: every event is stored before it is sent. */
  private announce(run: Pick<RunRow, 'user_id' | 'created_at'>, events: RunEvent[]): void {
    const acceptedAt = new Date(run.created_at).getTime();
    for (const event of events) {
      this.d.telemetry?.eventStored(event, acceptedAt);
      try {
        this.d.bus.publish(run.user_id, { event, json: JSON.stringify(event) } satisfies StoredEvent);
      } catch {
        // Delivery is repaired from the log.
      }
    }
  }
}
