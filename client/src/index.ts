// The agentwire client for browsers and Node: connects with a token or a ticket, reconnects
// with backoff and jitter, resumes every run it carries from its last seq, acks, retries an
// unanswered request with the same requestId, and exposes each run as an async iterable of
// typed events. No dependencies: the types and constants come from the protocol module
// (`agentwire/protocol`, src/protocol/wire.ts needs nothing), never from the server.
import type { ErrorFrame, InputRequest, RunAcceptedFrame, RunEvent, SessionReadyFrame } from '../../src/protocol/events.js';
import { BEARER_PREFIX, CLOSE_CODES, isTerminal, SUBPROTOCOL } from '../../src/protocol/wire.js';
import { EventQueue } from './queue.js';

export type { InputRequest, RunEvent, SessionReadyFrame };

/** A waiting run's open question: the fields of its `input_requested`, and that event's seq. */
export type Waiting = InputRequest & { seq: number };
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The part of the WebSocket API the client uses (browsers' global, or the `ws` package in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketFactory = new (url: string, protocols?: string[]) => WebSocketLike;

export interface ClientOptions {
  /** `ws://host/v1/ws` or `wss://…`. */
  url: string;
  /** A bearer token, or a function giving a fresh one (called again after a 4401 close). */
  token?: string | (() => string | Promise<string>);
  /** Alternatively a function giving a single-use ticket (`POST /v1/auth/ws-ticket`), called per connection. */
  ticket?: () => Promise<string>;
  /** The WebSocket class; defaults to the global one (browsers, Node 22+). */
  WebSocket?: WebSocketFactory;
  /** Reconnect backoff: full jitter between 0 and min(maxDelayMs, minDelayMs · 2^attempt). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** How long an agent_request may go unanswered before it is sent again (same requestId). */
  requestTimeoutMs?: number;
}

export interface AskOptions {
  threadId?: string;
  agent?: string;
  onBusy?: 'reject' | 'enqueue' | 'interrupt';
  /** The idempotency key; generated when not given. */
  requestId?: string;
}

export class AgentwireError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'AgentwireError';
  }
}


/** What pending promises reject with when `close()` is called: code `closed`. */
const closedError = () => new AgentwireError('closed', 'the client was closed');

/** One run as the client sees it: its events once each, in order, then the end. */
export class Run implements AsyncIterable<RunEvent> {
  lastSeq: number;
  terminal: RunEvent | undefined;
  /**
   * The question the run waits on (its `input_requested`, or `session_ready`'s `waiting` for a run
   * followed after a reconnect); undefined once answered or ended. Answer it with `answer()`.
   */
  waiting: Waiting | undefined;
  private answering: { interruptId: string; resolve: () => void; reject: (err: AgentwireError) => void } | undefined;
  private readonly queue = new EventQueue<RunEvent>();
  private settle!: (e: RunEvent) => void;
  private fail!: (err: AgentwireError) => void;
  /**
   * Resolves with the terminal event; rejects with `AgentwireError` code `closed` when the client
   * is closed before it arrived (the run itself goes on on the server).
   */
  readonly done: Promise<RunEvent>;

  constructor(
    readonly runId: string,
    readonly threadId: string,
    private readonly client: AgentwireClient,
    afterSeq = 0,
  ) {
    this.lastSeq = afterSeq;
    this.done = new Promise((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    // A caller who only iterates never looks at `done`: its rejection on close must not be reported as unhandled.
    this.done.catch(() => undefined);
  }

  /** Feeds an event; returns false for a duplicate or an event out of order (never delivered). */
  accept(event: RunEvent): boolean {
    if (event.seq !== this.lastSeq + 1 || this.terminal) return false;
    this.lastSeq = event.seq;
    if (event.type === 'input_requested') {
      const { type: _t, runId: _r, threadId: _th, ts: _ts, ...question } = event;
      this.waiting = question;
    } else if (event.type === 'input_received' || isTerminal(event.type)) {
      this.waiting = undefined;
      // Whoever answered (this client or another socket), the question is settled; a run that
      // ended while waiting leaves the answer unstored.
      if (event.type === 'input_received' && this.answering?.interruptId === event.interruptId) this.answering.resolve();
      else this.answering?.reject(new AgentwireError('bad_request', `the run went on (${event.type}) without this answer`));
      this.answering = undefined;
    }
    this.queue.push(event);
    if (isTerminal(event.type)) {
      this.terminal = event;
      this.queue.end();
      this.settle(event);
    }
    return true;
  }

  /**
   * Answers the question the run waits on (`provide_input`): for an approval `{approved, reason?}`,
   * for an input a value its schema accepts. Resolves once the run's `input_received` for it
   * arrived (stored: the run goes on); rejects with `AgentwireError` (the server's `code`, e.g.
   * `bad_request` naming the field, or `already answered` from another socket) when refused, or
   * when nothing waits. If the connection drops before `input_received` arrives, look at
   * `waiting` after the reconnect: undefined means the answer (this one or another) was stored.
   */
  answer(value: unknown): Promise<void> {
    const q = this.waiting;
    if (!q) return Promise.reject(new AgentwireError('bad_request', 'the run is not waiting for input'));
    this.answering?.reject(new AgentwireError('bad_request', 'answered again before the first answer was stored'));
    return new Promise<void>((resolve, reject) => {
      this.answering = { interruptId: q.interruptId, resolve, reject };
      this.client.send({ type: 'provide_input', runId: this.runId, interruptId: q.interruptId, value });
    });
  }

  /** The server refused a frame about this run: a pending answer learns why. */
  refused(err: AgentwireError): boolean {
    if (!this.answering) return false;
    this.answering.reject(err);
    this.answering = undefined;
    return true;
  }

  cancel(): void {
    this.client.send({ type: 'cancel_run', runId: this.runId });
  }

  /** The client stops following the run: its iteration ends after what arrived, `done` rejects. */
  detach(err: AgentwireError): void {
    this.answering?.reject(err);
    this.answering = undefined;
    if (this.terminal) return;
    this.queue.end();
    this.fail(err);
  }

  [Symbol.asyncIterator](): AsyncIterator<RunEvent> {
    return this.queue[Symbol.asyncIterator]();
  }
}

interface PendingRequest {
  frame: Record<string, unknown>;
  resolve: (run: Run) => void;
  reject: (err: AgentwireError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

const randomId = () =>
  typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : `r-${Date.now()}-${Math.random().toString(36).slice(2)}`;

export class AgentwireClient {
  state: ConnectionState = 'idle';
  /** Runs listed in the last session_ready (under way when the socket opened): `resume` them to follow. */
  sessionRuns: SessionReadyFrame['runs'] = [];
  private ws: WebSocketLike | undefined;
  private readonly runs = new Map<string, Run>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly outbox: string[] = [];
  private readonly listeners = new Set<(s: ConnectionState) => void>();
  private readonly unacked = new Set<string>();
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private readyWaiters: Array<{ resolve: () => void; reject: (err: AgentwireError) => void }> = [];
  private freshToken = false;
  /** Counters, for tests and status displays. */
  readonly stats = { connects: 0, duplicatesDropped: 0, gapsSeen: 0 };

  constructor(private readonly o: ClientOptions) {}

  onStateChange(fn: (s: ConnectionState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Opens the connection; resolves once the server's session_ready arrived. Rejects with
   * `AgentwireError` code `closed` when `close()` is called first.
   */
  connect(): Promise<void> {
    if (this.state === 'closed') this.state = 'idle';
    if (this.state === 'idle') void this.open();
    return this.ready();
  }

  private ready(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /**
   * Starts a run. Sent again, with the same requestId, if unanswered or interrupted by a drop.
   * Rejects with `AgentwireError`: the server's refusal code, or `closed` when the client is (or
   * gets) closed before the run is accepted.
   */
  ask(text: string, opts: AskOptions = {}): Promise<Run> {
    if (this.state === 'closed') return Promise.reject(closedError());
    const requestId = opts.requestId ?? randomId();
    const frame: Record<string, unknown> = { type: 'agent_request', requestId, input: { text } };
    if (opts.threadId) frame.threadId = opts.threadId;
    if (opts.agent) frame.agent = opts.agent;
    if (opts.onBusy) frame.onBusy = opts.onBusy;
    return new Promise<Run>((resolve, reject) => {
      const p: PendingRequest = { frame, resolve, reject };
      this.pending.set(requestId, p);
      this.sendRequest(p);
    });
  }

  /** Follows a run from `afterSeq` (a run listed in session_ready, or one known from elsewhere). */
  follow(runId: string, threadId: string, afterSeq = 0): Run {
    let run = this.runs.get(runId);
    if (!run) {
      run = new Run(runId, threadId, this, afterSeq);
      this.runs.set(runId, run);
      // A run listed waiting: its question is known before its events are replayed.
      const listed = this.sessionRuns.find((r) => r.runId === runId);
      if (listed?.waiting && listed.waiting.seq <= afterSeq) run.waiting = listed.waiting;
    }
    this.send({ type: 'resume', runs: [{ runId, afterSeq: run.lastSeq }] });
    return run;
  }

  /**
   * Closes the connection and stops: pending `ask()` and `connect()` calls reject with
   * `AgentwireError` code `closed`, and every run not yet ended stops being followed (its
   * iteration ends after the events already received, its `done` rejects with `closed`). Runs go on
   * on the server; `connect()` again and `follow()` one to see the rest.
   */
  close(): void {
    // What was delivered is acked first, so the server does not list it again.
    this.flushAcks();
    this.shutdown(closedError());
    this.ws?.close(1000, 'client closed');
    this.ws = undefined;
  }

  /** Stops everything: timers, pending requests and waiters rejected with `err`, open runs detached. */
  private shutdown(err: AgentwireError): void {
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    for (const w of this.readyWaiters.splice(0)) w.reject(err);
    for (const run of this.runs.values()) run.detach(err);
    this.runs.clear();
    this.unacked.clear();
    this.outbox.length = 0;
  }

  /** Sends a frame now, or as soon as the connection is open. */
  send(frame: Record<string, unknown>): void {
    const text = JSON.stringify(frame);
    if (this.state === 'open' && this.ws) this.ws.send(text);
    else this.outbox.push(text);
  }

  private sendRequest(p: PendingRequest): void {
    clearTimeout(p.timer);
    this.send(p.frame);
    p.timer = setTimeout(() => {
      if (this.pending.has(p.frame.requestId as string) && this.state === 'open') this.sendRequest(p);
    }, this.o.requestTimeoutMs ?? 10_000);
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    for (const fn of this.listeners) fn(s);
  }

  private async url(): Promise<{ url: string; protocols: string[] }> {
    if (this.o.ticket) {
      const ticket = await this.o.ticket();
      return { url: `${this.o.url}${this.o.url.includes('?') ? '&' : '?'}ticket=${encodeURIComponent(ticket)}`, protocols: [SUBPROTOCOL] };
    }
    const t = typeof this.o.token === 'function' ? await this.o.token() : this.o.token;
    if (!t) throw new AgentwireError('unauthorized', 'no token or ticket provider');
    return { url: this.o.url, protocols: [SUBPROTOCOL, `${BEARER_PREFIX}${t}`] };
  }

  private async open(): Promise<void> {
    this.setState(this.stats.connects === 0 ? 'connecting' : 'reconnecting');
    let target: { url: string; protocols: string[] };
    try {
      target = await this.url();
    } catch {
      return this.scheduleReconnect();
    }
    if (this.state === 'closed') return;
    const Impl = this.o.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketFactory }).WebSocket;
    // No retry can help: what waits on the connection learns why.
    if (!Impl) return this.shutdown(new AgentwireError('unavailable', 'no WebSocket implementation: pass options.WebSocket'));
    const ws = new Impl(target.url, target.protocols);
    this.ws = ws;
    ws.onmessage = (ev) => this.receive(typeof ev.data === 'string' ? ev.data : String(ev.data));
    ws.onerror = () => undefined; // onclose follows and decides
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.state === 'closed') return;
      // 4401: the token expired while connected; ask for a fresh one next time.
      if (ev.code === CLOSE_CODES.tokenExpired) this.freshToken = true;
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed') return;
    this.setState('reconnecting');
    const min = this.o.minDelayMs ?? 250;
    const cap = Math.min(this.o.maxDelayMs ?? 10_000, min * 2 ** this.attempt);
    this.attempt++;
    // Full jitter: thousands of clients dropped at once do not come back at once.
    const delay = this.freshToken ? 0 : Math.random() * cap;
    this.freshToken = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  private receive(text: string): void {
    let frame: { type: string; [k: string]: unknown };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      return;
    }
    switch (frame.type) {
      case 'session_ready':
        return this.onReady(frame as unknown as SessionReadyFrame);
      case 'run_accepted':
        return this.onAccepted(frame as unknown as RunAcceptedFrame);
      case 'error':
        return this.onError(frame as unknown as ErrorFrame);
      case 'pong':
        return;
      default:
        if (typeof frame.seq === 'number') this.onEvent(frame as unknown as RunEvent);
    }
  }

  private onReady(frame: SessionReadyFrame): void {
    this.stats.connects++;
    this.attempt = 0;
    this.sessionRuns = frame.runs;
    this.setState('open');
    const ws = this.ws!;
    // Every run this client carries and has not seen end: from where it is.
    const open = [...this.runs.values()].filter((r) => !r.terminal);
    if (open.length > 0) ws.send(JSON.stringify({ type: 'resume', runs: open.map((r) => ({ runId: r.runId, afterSeq: r.lastSeq })) }));
    // Requests never answered are sent again with their requestId: the server starts nothing twice.
    for (const p of this.pending.values()) this.sendRequest(p);
    for (const text of this.outbox.splice(0)) ws.send(text);
    for (const w of this.readyWaiters.splice(0)) w.resolve();
  }

  private onAccepted(frame: RunAcceptedFrame): void {
    const p = this.pending.get(frame.requestId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(frame.requestId);
    let run = this.runs.get(frame.runId);
    if (!run) {
      run = new Run(frame.runId, frame.threadId, this);
      this.runs.set(frame.runId, run);
    }
    p.resolve(run);
  }

  private onError(frame: ErrorFrame): void {
    if (frame.requestId && this.pending.has(frame.requestId)) {
      const p = this.pending.get(frame.requestId)!;
      clearTimeout(p.timer);
      this.pending.delete(frame.requestId);
      p.reject(new AgentwireError(frame.code, frame.message, frame.retryAfterMs));
      return;
    }
    if (frame.runId) this.runs.get(frame.runId)?.refused(new AgentwireError(frame.code, frame.message, frame.retryAfterMs));
  }

  private onEvent(event: RunEvent): void {
    let run = this.runs.get(event.runId);
    // A run started on another tab of this user: follow it too.
    if (!run && event.seq === 1) {
      run = new Run(event.runId, event.threadId, this);
      this.runs.set(event.runId, run);
    }
    if (!run) return;
    if (event.seq <= run.lastSeq) {
      this.stats.duplicatesDropped++;
      return;
    }
    if (!run.accept(event)) {
      // A gap: ask for the rest from where we are (the server sends strictly in order, so this
      // only follows a client-side reposition).
      this.stats.gapsSeen++;
      this.send({ type: 'resume', runs: [{ runId: run.runId, afterSeq: run.lastSeq }] });
      return;
    }
    this.unacked.add(run.runId);
    if (run.terminal) this.flushAcks();
    else this.ackTimer ??= setTimeout(() => this.flushAcks(), 250);
  }

  /** Acks what each run has delivered (batched; at once after a terminal event). */
  private flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.state !== 'open') return;
    for (const runId of this.unacked) {
      const run = this.runs.get(runId);
      if (run) this.send({ type: 'ack', runId, seq: run.lastSeq });
    }
    this.unacked.clear();
  }

  /** A run this client carries, by id. */
  run(runId: string): Run | undefined {
    return this.runs.get(runId);
  }
}

export { AgentwireChatTransport, type AgentwireChatTransportOptions } from './chat-transport.js';
