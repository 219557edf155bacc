// Signals between processes that share one PostgreSQL: "run R of user U has events up to seq N",
// "cancel run R", "a run was queued". Payloads carry ids only; events are read from the log.
// NOTIFY serialises commits, so it is sent after the event's own commit, batched per tick, and not
// at all while no other agentwire process listens (a node ignores its own notifications, so one
// process alone would only pay a commit per flush for nothing). Who else listens: the listeners
// connected at start (pg_stat_activity, by application_name), re-checked every PEER_CHECK_MS, and
// every `hello` a node announces when its listener connects, answered by every node that heard it.
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
/** A listener connected (payload `origin` or `origin\nreply`): whoever hears it publishes from then on and, unless it is a reply, answers. */
const CH_HELLO = 'agentwire_hello';
const LISTENER_NAME = 'agentwire-listener';
/** How often a node that believes itself alone (or not) asks PostgreSQL who else listens. */
export const PEER_CHECK_MS = 5_000;
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
  /**
   * Whether another agentwire process listens on this database. True until `start` has asked:
   * an unstarted notifier (and one whose check failed) publishes everything, as before.
   */
  private peers = true;
  /** Bumped by every hello heard: a peer check that began before one must not undo what it taught. */
  private helloGeneration = 0;
  private peerTimer: NodeJS.Timeout | undefined;

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
    const client = new pg.Client({ connectionString: this.connectionString, application_name: LISTENER_NAME });
    client.on('error', (err) => {
      this.log.warn({ err }, 'notification listener failed; reconnecting');
      this.scheduleReconnect(client);
    });
    client.on('end', () => this.scheduleReconnect(client));
    client.on('notification', (msg) => this.receive(msg.channel, msg.payload ?? ''));
    try {
      await client.connect();
      await client.query(`LISTEN ${CH_EVENTS}; LISTEN ${CH_CANCEL}; LISTEN ${CH_QUEUED}; LISTEN ${CH_HELLO}`);
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
    // Listening first, then who else is there, then the hello: a node that starts after the
    // check hears about us from our hello (or we hear its), and one that started before is counted.
    await this.checkPeers(client);
    this.announce(false);
    this.peerTimer ??= setInterval(() => void (this.listener && this.checkPeers(this.listener)), PEER_CHECK_MS).unref();
    if (isReconnect) {
      this.log.info('notification listener reconnected');
      this.handlers?.onReconnect();
    }
  }

  /** Counts the other agentwire listeners on this database; on failure, assumes there are some. */
  private async checkPeers(client: pg.Client): Promise<void> {
    const generation = this.helloGeneration;
    let others: boolean;
    try {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()',
        [LISTENER_NAME],
      );
      others = (rows[0]?.n ?? 1) > 0;
    } catch {
      others = true;
    }
    if (others) this.peers = true;
    else if (generation === this.helloGeneration) this.peers = false;
  }

  /** Tells every listening node that this one listens (they publish from now on). */
  private announce(reply: boolean): void {
    void this.publishSql('SELECT pg_notify($1, $2)', [CH_HELLO, reply ? `${this.nodeId}\nreply` : this.nodeId]).catch((err: unknown) =>
      this.log.warn({ err }, 'announcing this node to the others failed'),
    );
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
    if (channel === CH_HELLO) {
      // Another node listens: publish from now on. A reply comes from a node that publishes
      // since it heard our hello, so what it stored before is in the log: catch up from there.
      this.helloGeneration++;
      this.peers = true;
      if (lines[0] === 'reply') h.onReconnect();
      else this.announce(true);
      return;
    }
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
    if (!this.peers) {
      // Nobody else listens: nothing to tell (our own notifications would be ignored).
      this.pendingEvents = new Map();
      this.pendingCancels = [];
      this.pendingQueued = false;
      return;
    }
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
    if (this.peerTimer) clearInterval(this.peerTimer);
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
