// The load generator's socket: a `ws` client that tracks every run it sees by id, checking each
// run's seqs for gaps and duplicates and timing request → agent_started → terminal. Kept lean
// (one JSON.parse per frame, no frame history) so the generator is not the bottleneck.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const TERMINAL = new Set(['agent_completed', 'agent_error', 'agent_cancelled']);

export interface RunTrack {
  runId: string;
  sentAt?: number;
  startedAt?: number;
  terminalAt?: number;
  terminal?: string;
  lastSeq: number;
  events: number;
  outputs: number;
  done: boolean;
}

export interface Counters {
  gaps: number;
  duplicates: number;
  errors: number;
  serverCloses: number;
}

export const counters: Counters = { gaps: 0, duplicates: 0, errors: 0, serverCloses: 0 };
/** Error codes and server close codes seen, by code (what `errors` and `serverCloses` were). */
export const seen = { errorCodes: new Map<string, number>(), closeCodes: new Map<number, number>() };
const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

type Incoming = { type: string; runId?: string; seq?: number; requestId?: string; text?: string; runs?: Array<{ runId: string; lastSeq: number }>; code?: string };

let nextRequest = 0;

export class LoadSocket {
  readonly runs = new Map<string, RunTrack>();
  private readonly sent = new Map<string, number>();
  /** Called once per run when both its acceptance and its terminal event have arrived. */
  onRunDone: ((run: RunTrack) => void) | undefined;
  onFrame: ((f: Incoming, at: number) => void) | undefined;
  ready: Incoming | undefined;
  closedByClient = false;

  private constructor(readonly ws: WebSocket) {}

  static open(url: string, token?: string): Promise<LoadSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, token ? ['agentwire.v1', `bearer.${token}`] : ['agentwire.v1'], { perMessageDeflate: false });
      const s = new LoadSocket(ws);
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as Incoming;
        if (f.type === 'session_ready') {
          s.ready = f;
          resolve(s);
          return;
        }
        s.handle(f);
      });
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
      ws.once('close', (code) => {
        if (s.closedByClient) return;
        counters.serverCloses++;
        bump(seen.closeCodes, code);
      });
    });
  }

  request(text: string, agent?: string): void {
    const requestId = `q${nextRequest++}`;
    this.sent.set(requestId, performance.now());
    this.ws.send(JSON.stringify({ type: 'agent_request', requestId, input: { text }, ...(agent ? { agent } : {}) }));
  }

  resume(runs: Array<{ runId: string; afterSeq: number }>): void {
    this.ws.send(JSON.stringify({ type: 'resume', runs }));
  }

  /** Adopts runs tracked by an earlier socket of the same user (after a reconnect). */
  adopt(runs: Iterable<RunTrack>): void {
    for (const r of runs) this.runs.set(r.runId, r);
  }

  close(): void {
    this.closedByClient = true;
    this.ws.terminate();
  }

  private track(runId: string): RunTrack {
    let r = this.runs.get(runId);
    if (!r) {
      r = { runId, lastSeq: 0, events: 0, outputs: 0, done: false };
      this.runs.set(runId, r);
    }
    return r;
  }

  private handle(f: Incoming): void {
    const now = performance.now();
    this.onFrame?.(f, now);
    if (f.type === 'run_accepted' && f.runId && f.requestId) {
      const r = this.track(f.runId);
      r.sentAt = this.sent.get(f.requestId);
      this.sent.delete(f.requestId);
      this.maybeDone(r);
      return;
    }
    if (f.type === 'error') {
      counters.errors++;
      bump(seen.errorCodes, f.code ?? 'unknown');
      return;
    }
    if (!f.runId || typeof f.seq !== 'number') return;
    const r = this.track(f.runId);
    if (f.seq <= r.lastSeq) counters.duplicates++;
    else if (f.seq !== r.lastSeq + 1) counters.gaps++;
    r.lastSeq = Math.max(r.lastSeq, f.seq);
    r.events++;
    if (f.type === 'agent_output') r.outputs++;
    if (f.type === 'agent_started') r.startedAt = now;
    if (TERMINAL.has(f.type)) {
      r.terminalAt = now;
      r.terminal = f.type;
      this.maybeDone(r);
    }
  }

  private maybeDone(r: RunTrack): void {
    if (r.done || r.sentAt === undefined || r.terminalAt === undefined) return;
    r.done = true;
    // Finished runs are forgotten: a long soak keeps the generator's memory flat.
    this.runs.delete(r.runId);
    this.onRunDone?.(r);
  }
}

/** Opens `n` sockets, `parallel` at a time (a burst of thousands of upgrades at once measures the accept queue, not us). */
export async function openMany(n: number, open: (i: number) => Promise<LoadSocket>, parallel = 100): Promise<LoadSocket[]> {
  const out: LoadSocket[] = new Array<LoadSocket>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await open(i);
      }
    }),
  );
  return out;
}
