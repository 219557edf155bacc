// One crash scenario: real agentwire processes (scripts/chaos/node.ts) armed to die at chosen
// crash points, two clients (one that stays connected when it can, one that drops and resumes),
// one kind of run driven to its end through every death, then the oracle (./oracle.ts).
//   - PostgreSQL: a gateway and two workers, each armed alike; whoever reaches the point dies
//     (once: the mark file), a new process takes the dead one's role, the survivor takes over.
//   - PGlite: one process; it dies and is started again on the same data directory.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { TestClient, type Frame } from '../../tests/helpers/client.js';
import { startNode, type NodeProcess } from '../../tests/helpers/node-process.js';
import { checkRun, type Breach, type ClientView, type Event } from './oracle.js';
import { PERSON } from './agents.js';
import type { CrashPointName } from '../../src/runs/crash-points.js';

export const RUN_KINDS = ['analyst', 'llm-tools', 'sub-agent', 'enqueue-interrupt', 'cancel', 'cancel-queued', 'asks-person'] as const;
export type RunKind = (typeof RUN_KINDS)[number];
export type Backend = 'postgres' | 'pglite';

export interface Death {
  point: CrashPointName;
  nth: number;
}

export interface Scenario {
  id: string;
  backend: Backend;
  kind: RunKind;
  deaths: Death[];
}

export interface ScenarioResult {
  scenario: Scenario;
  /** Processes that died at a crash point (SIGKILL from inside). */
  deaths: number;
  runs: number;
  /** Executions of the sweep's tool beyond the first, per logical effect. */
  duplicateEffects: number;
  /** Executions of the sweep's tool beyond its effects: calls run again, under their own id, after a death. */
  reExecutions: number;
  /** Runs whose stored log or client views break the oracle. */
  divergentRuns: number;
  breaches: Array<Breach & { runId: string }>;
  terminals: Record<string, number>;
  /** Crash-point hits per point (max over the scenario's processes), when traced. */
  hits?: Partial<Record<CrashPointName, number>>;
  ms: number;
  /** The stored logs, kept only when something broke. */
  logs?: Record<string, Event[]>;
}

export interface SweepEnv {
  /** Template for each scenario's database (PostgreSQL) and the effects table's database. */
  adminSql: pg.Pool;
  clusterUrl: (db: string) => string;
  pgliteTemplate: string;
  llmUrl: string;
  /** Model calls answered per run input text. */
  modelCalls(input: string): number;
  workDir: string;
  /** The process entry: `node <execArgv> <script>`. */
  script: string;
  execArgv: string[];
}

const LEASE_MS = '1000';
const TOKEN_SECRET_USER = 'chaos sweep password';
/** How long a scenario may wait for its runs to end before it counts as a breach. */
const WAIT_MS = 90_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process role and the process currently playing it; a dead one is replaced. */
interface Role {
  name: string;
  env: Record<string, string>;
  proc: NodeProcess | undefined;
  starting: Promise<NodeProcess> | undefined;
}

/** A client as a well-behaved one behaves: keeps what it was shown, reconnects and resumes. */
class ChaosClient {
  readonly views = new Map<string, Event[]>();
  /** Error frames this client was sent (an `internal` one is a breach). */
  readonly errors: Frame[] = [];
  socket: TestClient | undefined;
  /** The questions answered on the current socket: each once per socket, again after a reconnection. */
  private answeredOn = new WeakMap<TestClient, Set<string>>();
  constructor(
    readonly name: string,
    private readonly token: string,
  ) {}

  /** The last seq this client holds with nothing missing before it. */
  contiguous(runId: string): number {
    const seqs = new Set((this.views.get(runId) ?? []).map((e) => e.seq));
    let n = 0;
    while (seqs.has(n + 1)) n++;
    return n;
  }

  ended(runId: string): boolean {
    return (this.views.get(runId) ?? []).some((e) => ['agent_completed', 'agent_error', 'agent_cancelled'].includes(e.type));
  }

  get connected(): boolean {
    return this.socket !== undefined && this.socket.closeCode === undefined && this.socket.ws.readyState === 1;
  }

  /**
   * Answers a run's open question as a person would, on `socket`: the number of seats asked, and
   * yes to an approval. Sent again on each new socket until the answer is seen stored (a death may
   * have swallowed it); a second answer is refused with bad_request, which is fine.
   */
  private answer(socket: TestClient, q: { runId: string; interruptId: string; kind: string }): void {
    if ((this.views.get(q.runId) ?? []).some((e) => e.type === 'input_received' && e.interruptId === q.interruptId)) return;
    const sent = this.answeredOn.get(socket) ?? new Set<string>();
    this.answeredOn.set(socket, sent);
    if (sent.has(q.interruptId)) return;
    sent.add(q.interruptId);
    socket.send({ type: 'provide_input', runId: q.runId, interruptId: q.interruptId, value: q.kind === 'approval' ? { approved: true } : { seats: PERSON.seats } });
  }

  private onFrame = (socket: TestClient, f: Frame) => {
    if (f.type === 'error') this.errors.push(f);
    if (f.type === 'input_requested' && typeof f.runId === 'string') this.answer(socket, f as unknown as { runId: string; interruptId: string; kind: string });
    if (f.type === 'run_accepted' && typeof f.runId === 'string' && !this.views.has(f.runId)) this.views.set(f.runId, []);
    if (typeof f.seq !== 'number' || typeof f.runId !== 'string') return;
    const list = this.views.get(f.runId) ?? [];
    list.push(f as unknown as Event);
    this.views.set(f.runId, list);
  };

  async connect(wsUrl: string): Promise<void> {
    const socket = await TestClient.open(wsUrl, { protocols: ['agentwire.v1', `bearer.${this.token}`] });
    socket.onFrame = (f) => this.onFrame(socket, f);
    const ready = (await socket.waitType('session_ready')) as { runs?: Array<{ runId: string; waiting?: { interruptId: string; kind: string } }> };
    for (const r of ready.runs ?? []) if (!this.views.has(r.runId)) this.views.set(r.runId, []);
    const open = [...this.views.keys()].filter((id) => !this.ended(id));
    if (open.length > 0) socket.send({ type: 'resume', runs: open.map((runId) => ({ runId, afterSeq: this.contiguous(runId) })) });
    // A question asked while this client was away: answered from session_ready (the resume shows it too).
    for (const r of ready.runs ?? []) if (r.waiting) this.answer(socket, { runId: r.runId, ...r.waiting });
    // Usable for requests and cancels only now: a client resumes first, then asks (a cancel_run of
    // a run that ended meanwhile is answered with its terminal event, which the resume sends too).
    this.socket = socket;
  }

  drop(): void {
    this.socket?.terminate();
    this.socket = undefined;
  }
}

export async function runScenario(env: SweepEnv, s: Scenario, o: { trace?: boolean } = {}): Promise<ScenarioResult> {
  const started = Date.now();
  const dir = mkdtempSync(join(env.workDir, `${s.id}-`));
  const dbName = `chaos_${s.id.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
  const common: Record<string, string> = {
    LEASE_MS,
    LOG_LEVEL: 'info',
    CHAOS_EFFECTS_URL: env.clusterUrl('postgres'),
    CHAOS_LLM_URL: env.llmUrl,
    RUN_RETRY_DELAY_MS: '200',
    AGENTWIRE_CRASH_MARK: join(dir, 'death'),
    ...(s.deaths.length > 0 ? { AGENTWIRE_CRASH_AT: s.deaths.map((d) => `${d.point}:${d.nth}`).join(',') } : {}),
  };
  const roles: Role[] = [];
  if (s.backend === 'postgres') {
    await env.adminSql.query(`CREATE DATABASE ${dbName} TEMPLATE chaos_template`);
    const url = env.clusterUrl(dbName);
    roles.push(
      { name: 'gateway', env: { ...common, DATABASE_URL: url, ROLE: 'gateway' }, proc: undefined, starting: undefined },
      { name: 'w1', env: { ...common, DATABASE_URL: url, ROLE: 'worker' }, proc: undefined, starting: undefined },
      { name: 'w2', env: { ...common, DATABASE_URL: url, ROLE: 'worker' }, proc: undefined, starting: undefined },
    );
  } else {
    const data = join(dir, 'data');
    cpSync(env.pgliteTemplate, data, { recursive: true });
    // DATABASE_URL empty (unset): the caller's environment (CI sets it) must not send this process to PostgreSQL.
    roles.push({ name: 'all', env: { ...common, DATABASE_URL: '', AGENTWIRE_DATA_DIR: data }, proc: undefined, starting: undefined });
  }
  let disposing = false;
  let generation = 0;
  const procs: NodeProcess[] = [];
  const start = (role: Role): Promise<NodeProcess> => {
    const gen = ++generation;
    const p = startNode(
      {
        ...role.env,
        NODE_ID: `${role.name}-${gen}`,
        ...(o.trace ? { AGENTWIRE_CRASH_TRACE: join(dir, `trace-${role.name}-${gen}`) } : {}),
      },
      env.script,
      env.execArgv,
    ).then((proc) => {
      procs.push(proc);
      role.proc = proc;
      role.starting = undefined;
      void proc.exited.then(() => {
        if (disposing) return;
        role.proc = undefined;
        // The role is taken by a new process: a worker's, or the gateway the clients reconnect to.
        role.starting = start(role);
      });
      return proc;
    }, (err: unknown) => {
      // Died before it said it listens (a worker may claim a run first): started again.
      if (disposing) throw err;
      return start(role);
    });
    role.starting = p;
    return p;
  };
  await Promise.all(roles.map(start));
  const front = roles[0]!;
  const frontUrl = async (): Promise<NodeProcess> => {
    for (;;) {
      if (front.proc) return front.proc;
      if (front.starting) await front.starting.catch(() => undefined);
      else await sleep(20);
    }
  };

  /** Each death creates its mark file just before the kill: the count of deaths, whoever died. */
  const deathsSoFar = () => readdirSync(dir).filter((n) => n.startsWith('death.')).length;
  const breaches: ScenarioResult['breaches'] = [];
  let reExecutions = 0;
  let result: ScenarioResult | undefined;
  const clients: ChaosClient[] = [];
  try {
    // A user of its own, with the analyst's sample usage records (its on-user-created hook).
    const creds = { username: `chaos_${s.id.replace(/[^a-z0-9]/gi, '_')}`, password: TOKEN_SECRET_USER };
    const token = await httpRetry(frontUrl, async (url) => {
      const reg = await fetch(`${url}/v1/auth/register`, { method: 'POST', body: JSON.stringify(creds) });
      if (reg.status !== 201 && reg.status !== 409) throw new Error(`register ${reg.status}`);
      const login = (await (await fetch(`${url}/v1/auth/login`, { method: 'POST', body: JSON.stringify(creds) })).json()) as { token: string };
      return login.token;
    });
    const steady = new ChaosClient('connected client', token);
    const dropper = new ChaosClient('dropped-and-resumed client', token);
    clients.push(steady, dropper);
    let dropped = false;
    let stop = false;
    // Keeps both clients connected to whatever process is the front now; drops one once.
    const supervise = (async () => {
      while (!stop) {
        for (const c of clients) {
          if (c.connected) continue;
          const p = await frontUrl();
          try {
            await c.connect(p.wsUrl);
          } catch {
            await sleep(50);
          }
        }
        if (!dropped && [...dropper.views.values()].some((v) => v.length >= 2)) {
          dropped = true;
          dropper.drop();
        }
        await sleep(25);
      }
    })();

    const runIds: string[] = [];
    const input = (suffix: string) => `[${s.id}] ${suffix}`;
    const request = async (text: string, extra: Record<string, unknown> = {}): Promise<{ runId: string; threadId: string }> => {
      const requestId = `${s.id}-${runIds.length}-${text.length}`;
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        if (Date.now() > deadline) throw new Error(`timed out sending the request ${requestId}`);
        if (!steady.connected) {
          await sleep(25);
          continue;
        }
        const sock = steady.socket!;
        const from = sock.frames.length;
        sock.send({ type: 'agent_request', requestId, input: { text }, ...extra });
        const answer = await Promise.race([
          sock.waitFor((f) => (f.type === 'run_accepted' || f.type === 'error') && f.requestId === requestId, from),
          sock.closed.then(() => undefined),
        ]);
        if (!answer) continue; // the process died: the same requestId again, answered once
        if (answer.type === 'error') {
          if (answer.code === 'unavailable') {
            await sleep(100);
            continue;
          }
          throw new Error(`request refused: ${JSON.stringify(answer)}`);
        }
        runIds.push(answer.runId as string);
        return { runId: answer.runId as string, threadId: answer.threadId as string };
      }
    };
    const cancel = async (runId: string) => {
      // Sent again after every reconnection until the run has ended: a cancel the death swallowed is repeated.
      let sentOn: TestClient | undefined;
      while (!steady.ended(runId) && !dropper.ended(runId)) {
        if (steady.connected && steady.socket !== sentOn) {
          sentOn = steady.socket;
          sentOn!.send({ type: 'cancel_run', runId });
        }
        await sleep(25);
      }
    };
    const seen = (runId: string, type: string) => steady.views.get(runId)?.some((e) => e.type === type) || dropper.views.get(runId)?.some((e) => e.type === type);
    const until = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + WAIT_MS;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(25);
      }
    };

    switch (s.kind) {
      case 'analyst':
        await request(input('Where does my money go, and which calls can move to a cheaper model?'), { agent: 'analyst' });
        break;
      case 'llm-tools':
        await request(input('llm: make both effects'), { agent: 'chaos-llm' });
        break;
      case 'sub-agent':
        await request(input('sub: hand it to the sub-agent'), { agent: 'chaos-llm' });
        break;
      case 'cancel': {
        const a = await request(input('cancel me'), { agent: 'chaos-script' });
        await until(() => seen(a.runId, 'tool_completed') || steady.ended(a.runId), 'the first tool call');
        await cancel(a.runId);
        break;
      }
      case 'cancel-queued': {
        // A run still queued behind another on its thread is cancelled; the one ahead finishes.
        const a = await request(input('ahead'), { agent: 'chaos-script' });
        await until(() => seen(a.runId, 'tool_executing') || steady.ended(a.runId), 'the first run to start');
        const b = await request(input('cancelled while queued'), { agent: 'chaos-script', threadId: a.threadId, onBusy: 'enqueue' });
        await cancel(b.runId);
        break;
      }
      case 'asks-person':
        // The clients answer its question and its approval (ChaosClient.answer).
        await request(input('ask me'), { agent: 'chaos-asker' });
        break;
      case 'enqueue-interrupt': {
        const a = await request(input('first'), { agent: 'chaos-script' });
        await until(() => seen(a.runId, 'tool_executing') || steady.ended(a.runId), 'the first run to start');
        await request(input('queued behind'), { agent: 'chaos-script', threadId: a.threadId, onBusy: 'enqueue' });
        await request(input('interrupting'), { agent: 'chaos-script', threadId: a.threadId, onBusy: 'interrupt' });
        break;
      }
    }
    await until(() => runIds.every((id) => steady.ended(id) && dropper.ended(id)), 'every run to end on both clients');
    stop = true;
    await supervise;

    // The stored logs, and each run's facts for the oracle.
    const logs: Record<string, Event[]> = {};
    let duplicateEffects = 0;
    let divergentRuns = 0;
    const terminals: Record<string, number> = {};
    const effects = await env.adminSql.query<{ run_id: string; tool_call_id: string; key: string }>(
      'SELECT run_id, tool_call_id, key FROM chaos_effects WHERE run_id = ANY($1)',
      [runIds],
    );
    const executions = await env.adminSql.query<{ n: number }>('SELECT count(*)::int AS n FROM chaos_executions WHERE run_id = ANY($1)', [runIds]);
    reExecutions = (executions.rows[0]?.n ?? 0) - effects.rows.length;
    for (const c of clients)
      for (const e of c.errors) if (e.code === 'internal') breaches.push({ check: 'no internal error', detail: `${c.name} was sent ${JSON.stringify(e)}`, runId: String(e.runId ?? '') });
    for (const runId of runIds) {
      const stored = await httpRetry(frontUrl, async (url) => {
        const res = await fetch(`${url}/v1/runs/${runId}/events?after=0`, { headers: { authorization: `Bearer ${token}` } });
        if (res.status !== 200) throw new Error(`events ${res.status}`);
        return ((await res.json()) as { events: Event[] }).events;
      });
      logs[runId] = stored;
      const started = stored[0];
      const text = started && typeof started.input === 'object' && started.input ? String((started.input as { text: unknown }).text) : '';
      const views: ClientView[] = clients.map((c) => ({ client: c.name, frames: c.views.get(runId) ?? [] }));
      const mine = effects.rows.filter((r) => r.run_id === runId).map((r) => ({ toolCallId: r.tool_call_id, key: r.key }));
      const keys = new Map<string, number>();
      for (const e of mine) keys.set(e.key, (keys.get(e.key) ?? 0) + 1);
      for (const n of keys.values()) duplicateEffects += n - 1;
      const isLlm = started?.agent === 'chaos-llm';
      const asks = started?.agent === 'chaos-asker';
      const found = checkRun({
        runId,
        stored,
        views,
        effects: mine,
        modelCalls: isLlm ? env.modelCalls(text) : undefined,
        ...(asks ? { person: { answers: { input: { seats: PERSON.seats }, approval: { approved: true } }, answer: PERSON.answer } } : {}),
      });
      if (found.length > 0) divergentRuns++;
      for (const b of found) breaches.push({ ...b, runId });
      const t = stored.at(-1)?.type ?? 'none';
      terminals[t] = (terminals[t] ?? 0) + 1;
    }
    result = {
      scenario: s,
      deaths: deathsSoFar(),
      runs: runIds.length,
      duplicateEffects,
      reExecutions,
      divergentRuns,
      breaches,
      terminals,
      ms: Date.now() - started,
      ...(breaches.length > 0 ? { logs } : {}),
    };
  } catch (err) {
    const errors = clients.flatMap((c) => c.errors.map((e) => `${c.name}: ${JSON.stringify(e)}`));
    breaches.push({ check: 'finished', detail: `${err instanceof Error ? err.message : String(err)}${errors.length > 0 ? `; error frames: ${errors.join('; ')}` : ''}`, runId: '' });
    result = { scenario: s, deaths: deathsSoFar(), runs: 0, duplicateEffects: 0, reExecutions, divergentRuns: 1, breaches, terminals: {}, ms: Date.now() - started };
  } finally {
    // CHAOS_LOG_DIR=<dir>: each process's log lines kept there, one file per process (to debug a breach).
    if (process.env.CHAOS_LOG_DIR) for (const p of procs) writeFileSync(join(process.env.CHAOS_LOG_DIR, `${s.id}-${p.nodeId}.log`), p.lines.join('\n'));
    disposing = true;
    for (const r of roles) await r.starting?.catch(() => undefined);
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
  }
  if (o.trace) result.hits = readHits(dir);
  rmSync(dir, { recursive: true, force: true });
  if (s.backend === 'postgres') await env.adminSql.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
  return result;
}

/** Hits per crash point: the most any one process of the scenario counted. */
function readHits(dir: string): Partial<Record<CrashPointName, number>> {
  const hits: Partial<Record<CrashPointName, number>> = {};
  for (const f of readdirSync(dir).filter((n) => n.startsWith('trace-'))) {
    const counts = new Map<string, number>();
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) if (line) counts.set(line, (counts.get(line) ?? 0) + 1);
    for (const [p, n] of counts) hits[p as CrashPointName] = Math.max(hits[p as CrashPointName] ?? 0, n);
  }
  return hits;
}

async function httpRetry<T>(front: () => Promise<NodeProcess>, fn: (url: string) => Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const p = await front();
    try {
      return await fn(p.url);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

export const scratchDir = (): string => mkdtempSync(join(tmpdir(), 'agentwire-chaos-'));
