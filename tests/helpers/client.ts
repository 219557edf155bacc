// A recording WebSocket client for tests: every frame is kept; tests wait for states, never sleep.
import WebSocket from 'ws';
import type { RunEvent } from '../../src/protocol/events.js';

export type Frame = { type: string; [k: string]: unknown };

export class TestClient {
  readonly frames: Frame[] = [];
  private waiters: Array<{ pred: (f: Frame) => boolean; from: number; resolve: (f: Frame) => void }> = [];
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  /** Called for every frame, in arrival order (before waiters). */
  onFrame: ((f: Frame) => void) | undefined;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code) => {
        this.closeCode = code;
        resolve(code);
      });
    });
    ws.on('message', (data, isBinary) => {
      const frame = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : String(data)) as Frame;
      this.frames.push(frame);
      this.onFrame?.(frame);
      const index = this.frames.length - 1;
      this.waiters = this.waiters.filter((w) => {
        if (index >= w.from && w.pred(frame)) {
          w.resolve(frame);
          return false;
        }
        return true;
      });
    });
  }

  /** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
  static open(url: string, opts: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers ?? {} });
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        reject(new UpgradeRefused(res.statusCode ?? 0));
        ws.terminate();
      });
      ws.once('error', (err) => reject(err));
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame (from index `from` on) matching `pred`, already received or yet to come. */
  waitFor(pred: (f: Frame) => boolean, from = 0): Promise<Frame> {
    const found = this.frames.slice(from).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ pred, from, resolve }));
  }

  waitType(type: string, from = 0): Promise<Frame> {
    return this.waitFor((f) => f.type === type, from);
  }

  /** Resolves once the run's terminal event has arrived; returns the run's events in arrival order. */
  async runEvents(runId: string): Promise<RunEvent[]> {
    await this.waitFor((f) => f.runId === runId && ['agent_completed', 'agent_error', 'agent_cancelled'].includes(f.type));
    return this.eventsOf(runId);
  }

  eventsOf(runId: string): RunEvent[] {
    return this.frames.filter((f) => f.runId === runId && typeof f.seq === 'number') as unknown as RunEvent[];
  }

  /** Sends an agent_request and waits for its answer (run_accepted or error). */
  async request(text: string, extra: Record<string, unknown> = {}): Promise<Frame> {
    const requestId = (extra.requestId as string | undefined) ?? `req-${Math.random().toString(36).slice(2)}`;
    const from = this.frames.length;
    this.send({ type: 'agent_request', requestId, input: { text }, ...extra });
    return this.waitFor((f) => (f.type === 'run_accepted' || f.type === 'error') && f.requestId === requestId, from);
  }

  close(): Promise<number> {
    this.ws.close();
    return this.closed;
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused with ${status}`);
  }
}
