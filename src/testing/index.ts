// `agentwire/testing`: runs an agent on a real embedded runtime (PGlite in memory, the real worker,
// recorder and run statechart) and returns the events a client would receive, with the run
// statechart's verdict. For agent authors' CI: prove the agent keeps the event order, once or
// over many generated inputs (one harness serves many runs, e.g. inside fast-check's
// `asyncProperty`).
//
//   const h = await createHarness({ agents: [myAgent], tools: [myTool] });
//   const run = await h.run('What is in my notes about pgboss?');
//   assertGrammar(run);            // throws, saying which event and why, unless the verdict is ok
//   await h.close();
import { randomBytes, randomUUID } from 'node:crypto';
import { refusalReason, initialRunSnapshot, stepRun, type RunSnapshot } from '../../machines/run.machine.js';
import type { RunEvent, RunEventBody } from '../protocol/events.js';
import { agentRequestFrame } from '../protocol/frames.js';
import { isTerminal, type TerminalType } from '../protocol/wire.js';
import { toMachineEvent } from '../runs/recorder.js';
import type { Refusal } from '../runs/worker.js';
import { checkUws } from '../startup/uws-check.js';
import { readEvents } from '../store/event-log.js';
import type { ServerOptions } from '../server/types.js';

export type { Refusal } from '../runs/worker.js';
export type { RunEvent } from '../protocol/events.js';

/** `createServer`'s options; the listening address and the database are the harness's own (in memory unless `dataDir` says otherwise). */
export type HarnessOptions<C extends object = object> = Omit<ServerOptions<C>, 'port' | 'host'>;

/** The run statechart's judgement of one run. */
export type Verdict =
  | { ok: true; state: 'completed' | 'failed' | 'cancelled' }
  | {
      ok: false;
      /** What broke the grammar, in words (the first problem). */
      reason: string;
      /** Events the agent tried that the statechart refused (never stored, never sent). */
      refused: Refusal[];
    };

export interface HarnessRun {
  runId: string;
  threadId: string;
  /** Every event of the run as a client receives it (`seq` 1 …), the terminal one last. */
  events: RunEvent[];
  terminal: Extract<RunEvent, { type: TerminalType }>;
  /** The answer (`agent_completed.text`); undefined if the run did not complete. */
  text: string | undefined;
  verdict: Verdict;
}

export interface RunRequest {
  text: string;
  /** The agent to run; unset: the server's default agent. */
  agent?: string;
  /** Continue a thread (the agent gets its earlier messages as `ctx.history`). */
  threadId?: string;
  /** Runs of different users are isolated; unset: one user for the whole harness. */
  user?: string;
  /** What happens if the thread has a run going (`reject` by default). */
  onBusy?: 'reject' | 'enqueue' | 'interrupt';
}

export interface Harness {
  /** Starts a run and resolves with its events once it ended. */
  run(request: string | RunRequest): Promise<HarnessRun>;
  /** Starts a run and returns at once: `done` settles like `run()`; `cancel()` sends `cancel_run`. */
  start(request: string | RunRequest): Promise<{ runId: string; threadId: string; done: Promise<HarnessRun>; cancel(): Promise<void> }>;
  /** Every refusal so far, of every run (an event after a run's end is refused after `run()` returned). */
  readonly refusals: readonly Refusal[];
  /** The server under test (its `url`, for a client of your own). */
  readonly url: string;
  close(): Promise<void>;
}

/** Replays the events through the run statechart: where it refuses, and why; or the final state. */
export function judge(events: readonly RunEvent[], refused: readonly Refusal[] = []): Verdict {
  let snap: RunSnapshot = initialRunSnapshot();
  for (const [i, e] of events.entries()) {
    if (e.seq !== i + 1) return { ok: false, reason: `event ${i + 1} (${e.type}) has seq ${e.seq}: seq must rise by one from 1`, refused: [...refused] };
    const m = toMachineEvent(e as unknown as RunEventBody);
    const next = stepRun(snap, m);
    if (!next) return { ok: false, reason: `event ${e.seq} (${e.type}): ${refusalReason(snap, m)}`, refused: [...refused] };
    snap = next;
  }
  const first = refused[0];
  if (first) return { ok: false, reason: `agent ${first.agent} produced ${first.event}, refused: ${first.reason}`, refused: [...refused] };
  if (snap.status !== 'done') return { ok: false, reason: `the run did not end (state ${JSON.stringify(snap.value)})`, refused: [] };
  return { ok: true, state: snap.value as 'completed' | 'failed' | 'cancelled' };
}

/** Throws, naming the event and the rule it broke, unless the run kept the grammar. */
export function assertGrammar(run: HarnessRun): void {
  if (!run.verdict.ok) throw new Error(`run ${run.runId} broke the event grammar: ${run.verdict.reason}`);
}

export async function createHarness<C extends object = object>(options: HarnessOptions<C>): Promise<Harness> {
  const uws = checkUws();
  if (!uws.ok) throw new Error(`agentwire: ${uws.message}`);
  const { prepare, serverUrl } = await import('../server/prepare.js');
  const { createLogger } = await import('../log/logger.js');

  const refusals: Refusal[] = [];
  const ended = new Map<string, () => void>();
  const endedEarly = new Set<string>();
  const { runtime, config } = prepare(
    {
      dataDir: 'memory://',
      logger: options.logger ?? createLogger(options.logLevel ?? 'silent'),
      ...(options as ServerOptions),
      limits: { registrationsPerAddress: 1_000_000, ...options.limits },
      port: 0,
      host: '127.0.0.1',
    },
    {
      pollIntervalMs: 200,
      onRefused: (r) => refusals.push(r),
      onEvent: (_userId, event) => {
        if (!isTerminal(event.type)) return;
        const wake = ended.get(event.runId);
        if (wake) wake();
        else endedEarly.add(event.runId);
      },
    },
  );
  const port = await runtime.start().catch(async (err: unknown) => {
    await runtime.stop();
    throw err;
  });
  const url = serverUrl(config.host, port);

  const users = new Map<string, Promise<string>>();
  const userId = (name: string) => {
    let id = users.get(name);
    if (!id) {
      id = (async () => {
        // Through the real route: the server's onUserCreated runs, as it would for a person.
        const username = `${name.replace(/[^A-Za-z0-9_.@-]/g, '_').slice(0, 40)}_${randomBytes(4).toString('hex')}`;
        const res = await fetch(`${url}/v1/auth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username, password: randomBytes(18).toString('base64url') }),
        });
        if (res.status !== 201) throw new Error(`registering a test user failed: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { userId: string }).userId;
      })();
      users.set(name, id);
    }
    return id;
  };

  const start: Harness['start'] = async (request) => {
    const r = typeof request === 'string' ? { text: request } : request;
    const owner = await userId(r.user ?? 'tester');
    // Checked as the socket checks an `agent_request` (the text trimmed, 1-32,000 characters, storable).
    const frame = agentRequestFrame.safeParse({
      type: 'agent_request',
      requestId: randomUUID(),
      input: { text: r.text },
      ...(r.threadId ? { threadId: r.threadId } : {}),
      ...(r.agent ? { agent: r.agent } : {}),
      ...(r.onBusy ? { onBusy: r.onBusy } : {}),
    });
    if (!frame.success) throw new Error(`a server would refuse this request (bad_request): ${frame.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const accepted = await runtime.runService.accept(owner, frame.data);
    const finished = new Promise<void>((resolve) => {
      // A run can end before this line runs: its terminal event was then kept in endedEarly.
      if (endedEarly.delete(accepted.runId)) return resolve();
      ended.set(accepted.runId, resolve);
    });
    const result = finished.then(async (): Promise<HarnessRun> => {
      ended.delete(accepted.runId);
      const events = (await readEvents(runtime.database, accepted.runId, 0, 100_000)).map((s) => s.event);
      const terminal = events.at(-1) as HarnessRun['terminal'];
      return {
        ...accepted,
        events,
        terminal,
        text: terminal.type === 'agent_completed' ? terminal.text : undefined,
        verdict: judge(events, refusals.filter((x) => x.runId === accepted.runId)),
      };
    });
    return { ...accepted, done: result, cancel: async () => void (await runtime.runService.cancel(owner, accepted.runId)) };
  };

  return {
    url,
    refusals,
    start,
    run: async (request) => (await start(request)).done,
    close: () => runtime.stop(),
  };
}
