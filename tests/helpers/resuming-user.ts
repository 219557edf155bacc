// A user as a well-behaved client behaves: keeps the last seq of each run, reconnects, and
// resumes every unfinished run from where it was. Counts what the fault tests report:
// duplicates, gaps (out-of-order deliveries) and, at the end, missing events.
import { TestClient, type Frame } from './client.js';

interface RunState {
  lastSeq: number;
  terminalSeq: number | undefined;
  terminalType: string | undefined;
  seen: Set<number>;
  duplicates: number;
  outOfOrder: number;
}

export class ResumingUser {
  client: TestClient | undefined;
  readonly runs = new Map<string, RunState>();
  private waiters: Array<() => void> = [];

  constructor(
    readonly userId: string,
    readonly token: string,
  ) {}

  private track(runId: string): RunState {
    let r = this.runs.get(runId);
    if (!r) {
      r = { lastSeq: 0, terminalSeq: undefined, terminalType: undefined, seen: new Set(), duplicates: 0, outOfOrder: 0 };
      this.runs.set(runId, r);
    }
    return r;
  }

  private onFrame = (f: Frame) => {
    if (f.type === 'run_accepted') this.track(f.runId as string);
    if (typeof f.seq !== 'number' || typeof f.runId !== 'string') return;
    const r = this.track(f.runId);
    const seq = f.seq;
    if (r.seen.has(seq) || seq <= r.lastSeq) r.duplicates++;
    else if (seq !== r.lastSeq + 1) r.outOfOrder++;
    r.seen.add(seq);
    r.lastSeq = Math.max(r.lastSeq, seq);
    if (['agent_completed', 'agent_error', 'agent_cancelled'].includes(f.type)) {
      r.terminalSeq = seq;
      r.terminalType = f.type;
      this.notify();
    }
  };

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** Opens a socket (to any node) and resumes every unfinished run it knows. */
  async connect(wsUrl: string): Promise<void> {
    const client = await TestClient.open(wsUrl, { protocols: ['agentwire.v1', `bearer.${this.token}`] });
    client.onFrame = this.onFrame;
    this.client = client;
    await client.waitType('session_ready');
    const open = [...this.runs.entries()].filter(([, r]) => r.terminalSeq === undefined);
    if (open.length > 0) client.send({ type: 'resume', runs: open.map(([runId, r]) => ({ runId, afterSeq: r.lastSeq })) });
  }

  async request(text: string, agent: string): Promise<string> {
    if (!this.client) throw new Error('not connected');
    const f = await this.client.request(text, { agent });
    if (f.type !== 'run_accepted') throw new Error(`request refused: ${JSON.stringify(f)}`);
    return f.runId as string;
  }

  get done(): boolean {
    return [...this.runs.values()].every((r) => r.terminalSeq !== undefined);
  }

  /** Resolves once every run this user started has reached its terminal event. */
  allDone(): Promise<void> {
    if (this.done) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => (this.done ? resolve() : this.waiters.push(check));
      this.waiters.push(check);
    });
  }

  drop(): void {
    this.client?.terminate();
    this.client = undefined;
  }
}

export interface DeliveryCounts {
  runs: number;
  completed: number;
  duplicated: number;
  missing: number;
  outOfOrder: number;
}

/** Adds up every user's runs; `missing` counts seqs below the terminal one never received. */
export function countDelivery(users: ResumingUser[]): DeliveryCounts {
  const c: DeliveryCounts = { runs: 0, completed: 0, duplicated: 0, missing: 0, outOfOrder: 0 };
  for (const u of users) {
    for (const r of u.runs.values()) {
      c.runs++;
      if (r.terminalType === 'agent_completed') c.completed++;
      c.duplicated += r.duplicates;
      c.outOfOrder += r.outOfOrder;
      const last = r.terminalSeq ?? r.lastSeq;
      for (let s = 1; s <= last; s++) if (!r.seen.has(s)) c.missing++;
    }
  }
  return c;
}
