// Signals between processes that share one PostgreSQL: "run R of user U has events up to seq N",
// "cancel run R", "a run was queued". Payloads carry ids only; events are read from the log.
// NOTIFY serialises commits, so it is sent after the event's own commit, batched per tick.
import pg from 'pg';
import type { Logger } from '../log/logger.js';

export interface EventHint {
  userId: string;
  runId: string;
  /** The batch covered seqs `fromSeq..toSeq`; `fromSeq === 1` means the run just started. */
  fromSeq: number;
  toSeq: number;
}

export interface NotifierHandlers {
  onEvents(hints: EventHint[]): void;
  onCancel(runId: string, reason: string): void;
  onQueued(): void;
  /** The listener reconnected: notifications may have been missed; repair from the log. */
  onReconnect(): void;
}

export interface Notifier {
  start(handlers: NotifierHandlers): Promise<void>;
  publishEvent(userId: string, runId: string, seq: number): void;
  publishCancel(runId: string, reason: string): void;
  publishQueued(): void;
  stop(): Promise<void>;
}

/** One process (embedded PGlite): nothing to tell anyone. */
export class LocalNotifier implements Notifier {
  async start(): Promise<void> {}
  publishEvent(): void {}
  publishCancel(): void {}
  publishQueued(): void {}
  async stop(): Promise<void> {}
}

const CH_EVENTS = 'agentwire_events';
const CH_CANCEL = 'agentwire_cancel';
const CH_QUEUED = 'agentwire_queued';
/** PostgreSQL's payload limit is 8000 bytes. */
const MAX_PAYLOAD = 7000;

export class PgNotifier implements Notifier {
  private listener: pg.Client | undefined;
  private handlers: NotifierHandlers | undefined;
  private stopped = false;
  private reconnectDelay = 250;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pendingEvents = new Map<string, EventHint>();
  private pendingCancels: string[] = [];
  private pendingQueued = false;
  private flushScheduled = false;
  /** One flush at a time: what arrives meanwhile goes out with the next (one NOTIFY commit per round trip under load, not per tick). */
  private flushing = false;
  private flushAgain = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly publishSql: (sql: string, params: unknown[]) => Promise<unknown>,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  async start(handlers: NotifierHandlers): Promise<void> {
    this.handlers = handlers;
    await this.connect(false);
  }

  private async connect(isReconnect: boolean): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, application_name: 'agentwire-listener' });
    client.on('error', (err) => {
      this.log.warn({ err }, 'notification listener failed; reconnecting');
      this.scheduleReconnect(client);
    });
    client.on('end', () => this.scheduleReconnect(client));
    client.on('notification', (msg) => this.receive(msg.channel, msg.payload ?? ''));
    try {
      await client.connect();
      await client.query(`LISTEN ${CH_EVENTS}; LISTEN ${CH_CANCEL}; LISTEN ${CH_QUEUED}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      if (!isReconnect) throw err;
      this.log.warn({ err }, 'notification listener cannot connect yet');
      this.scheduleReconnect(undefined);
      return;
    }
    this.listener = client;
    this.reconnectDelay = 250;
    if (isReconnect) {
      this.log.info('notification listener reconnected');
      this.handlers?.onReconnect();
    }
  }

  private scheduleReconnect(failed: pg.Client | undefined): void {
    if (this.stopped || this.reconnectTimer) return;
    if (failed && this.listener !== failed) return; // an old client's late event
    this.listener = undefined;
    failed?.removeAllListeners('end');
    void failed?.end().catch(() => undefined);
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect(true);
    }, delay);
  }

  private receive(channel: string, payload: string): void {
    const h = this.handlers;
    if (!h) return;
    const [origin, ...lines] = payload.split('\n');
    if (origin === this.nodeId) return; // our own: delivered locally already
    if (channel === CH_QUEUED) return h.onQueued();
    if (channel === CH_CANCEL) {
      for (const line of lines) {
        const sep = line.indexOf(' ');
        if (sep > 0) h.onCancel(line.slice(0, sep), line.slice(sep + 1));
      }
      return;
    }
    if (channel === CH_EVENTS) {
      const hints: EventHint[] = [];
      for (const line of lines) {
        const [userId, runId, from, to] = line.split(' ');
        const fromSeq = Number(from);
        const toSeq = Number(to);
        if (userId && runId && Number.isInteger(fromSeq) && Number.isInteger(toSeq)) hints.push({ userId, runId, fromSeq, toSeq });
      }
      if (hints.length > 0) h.onEvents(hints);
    }
  }

  publishEvent(userId: string, runId: string, seq: number): void {
    const prev = this.pendingEvents.get(runId);
    if (prev) prev.toSeq = Math.max(prev.toSeq, seq);
    else this.pendingEvents.set(runId, { userId, runId, fromSeq: seq, toSeq: seq });
    this.scheduleFlush();
  }

  publishCancel(runId: string, reason: string): void {
    this.pendingCancels.push(`${runId} ${reason.replace(/\n/g, ' ')}`);
    this.scheduleFlush();
  }

  publishQueued(): void {
    this.pendingQueued = true;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      await this.flushNow();
    } finally {
      this.flushing = false;
      if (this.flushAgain) {
        this.flushAgain = false;
        this.scheduleFlush();
      }
    }
  }

  private async flushNow(): Promise<void> {
    const events = [...this.pendingEvents.values()].map((h) => `${h.userId} ${h.runId} ${h.fromSeq} ${h.toSeq}`);
    const cancels = this.pendingCancels;
    const queued = this.pendingQueued;
    this.pendingEvents = new Map();
    this.pendingCancels = [];
    this.pendingQueued = false;
    const sends: Array<[string, string]> = [
      ...chunk(events, this.nodeId).map((p): [string, string] => [CH_EVENTS, p]),
      ...chunk(cancels, this.nodeId).map((p): [string, string] => [CH_CANCEL, p]),
      ...(queued ? [[CH_QUEUED, this.nodeId] as [string, string]] : []),
    ];
    if (sends.length === 0) return;
    let failed = false;
    try {
      // Every payload of this flush in one statement: one commit, one round trip.
      await this.publishSql('SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS t(c, p)', [sends.map((x) => x[0]), sends.map((x) => x[1])]);
    } catch (err) {
      failed = true;
      this.log.warn({ err }, 'notify failed; will retry');
    }
    if (!failed || this.stopped) return;
    // Put everything back (receivers ignore what they already have) and try again later.
    for (const line of events) {
      const [userId, runId, from, to] = line.split(' ');
      if (!userId || !runId) continue;
      const prev = this.pendingEvents.get(runId);
      this.pendingEvents.set(runId, {
        userId,
        runId,
        fromSeq: Math.min(Number(from), prev?.fromSeq ?? Infinity),
        toSeq: Math.max(Number(to), prev?.toSeq ?? 0),
      });
    }
    this.pendingCancels.push(...cancels);
    this.pendingQueued ||= queued;
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = undefined;
      this.scheduleFlush();
    }, 1_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const l = this.listener;
    this.listener = undefined;
    if (l) {
      l.removeAllListeners('end');
      await l.end().catch(() => undefined);
    }
  }
}

/** Lines packed into payloads under PostgreSQL's limit, each led by the sending node's id. */
function chunk(lines: string[], origin: string): string[] {
  const out: string[] = [];
  let cur = origin;
  for (const line of lines) {
    if (cur.length + 1 + line.length > MAX_PAYLOAD && cur !== origin) {
      out.push(cur);
      cur = origin;
    }
    cur += `\n${line}`;
  }
  if (cur !== origin) out.push(cur);
  return out;
}
