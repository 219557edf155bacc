// The composition root: builds the parts in data-path order and stops them in reverse.
// A process is a gateway (sockets and HTTP), a worker (runs agents), or both (the default).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { buildRegistry, type AgentRegistry } from './agents/registry.js';
import type { ServerServices, Tool, ToolContextFactory, UserCreatedHook } from './agents/types.js';
import { ExternalTokenVerifier } from './auth/external.js';
import { AuthService } from './auth/service.js';
import { TokenService } from './auth/tokens.js';
import { isMemoryDir, type Config } from './config/index.js';
import { lockDataDir } from './config/data-dir-lock.js';
import { loadOrCreateSecret } from './config/secret.js';
import type { Logger } from './log/logger.js';
import { AppError } from './protocol/errors.js';
import { NodeRunEventBus } from './runs/bus.js';
import { LocalNotifier, PgNotifier, type Notifier } from './runs/notifier.js';
import { RunQueue } from './runs/queue.js';
import { RunService } from './runs/service.js';
import { ThreadScheduler } from './runs/scheduler.js';
import { FeedbackService } from './runs/feedback.js';
import { runFeedback } from './store/feedback.js';
import { ThreadService } from './runs/threads.js';
import { RunWorker } from './runs/worker.js';
import { FrameHandler } from './session/frames.js';
import { SessionHub } from './session/hub.js';
import type { Db } from './store/db.js';
import { readEvents } from './store/event-log.js';
import { runsCreatedAt } from './store/runs.js';
import { migrate } from './store/migrations.js';
import { createPgDb } from './store/pg.js';
import { createPgliteDb } from './store/pglite.js';
import { insertUsage } from './store/usage.js';
import { tokenStates } from './store/users.js';
import { HttpServer } from './transport/server.js';
import { RunFollowers } from './frontends/follow.js';
import { parseUsageUpload } from './usage/index.js';
import type { TracerProvider } from '@opentelemetry/api';
import { Telemetry } from './telemetry/index.js';
import { EventLoopLag } from './telemetry/event-loop.js';
import { createTracing, type Tracing } from './telemetry/tracing.js';
import { DebugAccess } from './debug/access.js';
import { DebugFeed } from './debug/feed.js';
import { registerDebug } from './debug/server.js';
import { getRun, recentRuns } from './store/runs.js';
import { usernameOf } from './store/users.js';
import type { RunEvent } from './protocol/events.js';
import type { Refusal } from './runs/worker.js';

export interface RuntimeOptions {
  config: Config;
  log: Logger;
  /** The agents and tools this server offers (checked when the runtime is made: `OptionsError`). */
  agents?: readonly unknown[];
  tools?: ReadonlyArray<Tool<unknown, unknown, never>>;
  /** The embedder's part of every tool call's context. */
  toolContext?: ToolContextFactory<object>;
  /** Runs in the transaction that registers a user. */
  onUserCreated?: UserCreatedHook;
  /** Told of every event the run statechart refused (the test harness). */
  onRefused?: (refusal: Refusal) => void;
  /** Told of every event this node stored, after it is stored (the test harness). */
  onEvent?: (userId: string, event: RunEvent) => void;
  /** Worker polling safety net; runs queued anywhere wake workers without it. */
  pollIntervalMs?: number;
  /** Traces go here instead of to the OTEL_* configured exporter (tests, embedders). */
  tracerProvider?: TracerProvider;
}

export class Runtime {
  private db: Db | undefined;
  private queue: RunQueue | undefined;
  private notifier: Notifier | undefined;
  private worker: RunWorker | undefined;
  private feedback: FeedbackService | undefined;
  private server: HttpServer | undefined;
  private hub: SessionHub | undefined;
  private runs: RunService | undefined;
  /** SSE front-end answers following runs (gateway only). */
  followers: RunFollowers | undefined;
  /** The statechart visualizer's live feed (DEBUG_ENABLED on a gateway). */
  debugFeed: DebugFeed | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private repairTimer: NodeJS.Timeout | undefined;
  private revocationTimer: NodeJS.Timeout | undefined;
  private acceptingWork = false;
  private startPromise: Promise<number> | undefined;
  private tracing: Tracing | undefined;
  /** Tracer and metrics of this runtime (tests read the metrics through /metrics). */
  readonly telemetry: Telemetry;
  private stopPromise: Promise<void> | undefined;
  /** Releases the embedded database's directory (PGlite only). */
  private unlockDataDir: (() => void) | undefined;
  private eventLoopLag: EventLoopLag | undefined;
  readonly nodeId: string;
  readonly agents: AgentRegistry;
  readonly defaultAgent: string;
  port = 0;

  /** Throws `OptionsError` when the agents or tools cannot run (duplicate names, no schema, …). */
  constructor(private readonly o: RuntimeOptions) {
    const built = buildRegistry({
      agents: o.agents,
      tools: o.tools,
      defaultAgent: o.config.defaultAgent,
      llm: o.config.llm,
      toolsRequiringApproval: o.config.toolsRequiringApproval,
      log: o.log,
    });
    this.agents = built.registry;
    this.defaultAgent = built.defaultAgent;
    this.nodeId = o.config.nodeId ?? `node-${randomBytes(4).toString('hex')}`;
    this.tracing = createTracing(o.config.telemetry, o.tracerProvider);
    this.telemetry = new Telemetry(this.tracing);
    this.registerGauges();
  }

  /** Idempotent; resolves with the bound port. */
  start(): Promise<number> {
    this.startPromise ??= this.doStart();
    return this.startPromise;
  }

  private async doStart(): Promise<number> {
    const { config, log } = this.o;
    const gateway = config.role !== 'worker';
    const working = config.role !== 'gateway';
    const memory = !config.databaseUrl && isMemoryDir(config.dataDir);
    // The embedded database has one owner: a second process on the directory stops here, naming the first.
    if (!config.databaseUrl && !memory) this.unlockDataDir = lockDataDir(config.dataDir);
    // In memory nothing outlives the process, the tokens it signs included.
    const secret = config.jwtSecret ?? (memory ? randomBytes(48).toString('base64url') : loadOrCreateSecret(config.dataDir).secret);
    if (!config.jwtSecret && config.databaseUrl) {
      log.warn('JWT_SECRET is not set: using the one kept in the data directory; set it so every process shares it');
    }

    const db = config.databaseUrl
      ? createPgDb({ connectionString: config.databaseUrl, max: config.databasePoolSize, log })
      : await createPgliteDb({ dataDir: memory ? 'memory://' : join(config.dataDir, 'pglite') });
    this.db = db;
    const applied = await migrate(db);
    if (applied.length > 0) log.info({ applied }, 'migrations applied');

    const queue = new RunQueue(db, log);
    this.queue = queue;
    await queue.start();

    const agents = this.agents;
    // What the embedder's hooks may use: agentwire's database, one statement at a time.
    const services: ServerServices = { db: { query: (sql, params) => db.query(sql, params) } };
    const toolContext = this.o.toolContext;
    const onUserCreated = this.o.onUserCreated;
    const onEvent = this.o.onEvent;

    const notifier: Notifier = config.databaseUrl
      ? new PgNotifier(config.databaseUrl, (sql, params) => db.query(sql, params), this.nodeId, log)
      : new LocalNotifier();
    this.notifier = notifier;
    const feed = gateway && config.debug.enabled ? new DebugFeed(config.debug.feedIntervalMs, config.debug.feedMaxActors) : undefined;
    this.debugFeed = feed;
    const hub = gateway
      ? new SessionHub(
          { read: (runId, after, limit) => readEvents(db, runId, after, limit) },
          log,
          (ids) => runsCreatedAt(db, ids),
          this.telemetry,
          feed ? (userId) => feed.inspectSession(userId) : undefined,
        )
      : undefined;
    this.hub = hub;
    // SSE front-end answers (docs/front-ends.md) follow runs like sockets do.
    const followers = gateway
      ? new RunFollowers({ read: (runId, after, limit) => readEvents(db, runId, after, limit) }, (err) => log.error({ err }, 'SSE delivery from the log failed'))
      : undefined;
    this.followers = followers;
    const bus = new NodeRunEventBus(
      {
        deliver: (userId, stored) => {
          hub?.deliver(userId, stored);
          followers?.offer(stored);
          onEvent?.(userId, stored.event);
        },
        // The user's sockets here carry the run from its start (the session statechart's carryRun).
        accepted: (userId, runId) => hub?.runActive(userId, runId),
      },
      notifier,
    );
    const threads = new ThreadService(db);

    // A thread's turns and the way a run reaches a worker; this node's worker joins it once built.
    const scheduler = new ThreadScheduler(queue, notifier);
    const runs = new RunService({
      db,
      bus,
      scheduler,
      agents,
      defaultAgent: this.defaultAgent,
      telemetry: this.telemetry,
      onInterruptFailed: (runId, err) => log.warn({ runId, err }, 'interrupting a run failed'),
      inputTimeoutMs: config.inputTimeoutMs,
    });
    this.runs = runs;
    const worker: RunWorker | undefined = working
      ? new RunWorker(
          db,
          queue,
          bus,
          {
            db,
            agents,
            log,
            ...(toolContext ? { toolContext: (base) => toolContext(base, services) } : {}),
            history: (threadId, runId) => threads.history(threadId, runId),
            turns: scheduler,
            toolTimeoutMs: config.toolTimeoutMs,
            runTimeoutMs: config.runTimeoutMs,
            inputTimeoutMs: config.inputTimeoutMs,
            requiresApproval: (name) => config.toolsRequiringApproval.includes(name) || agents.tool(name)?.requiresApproval === true,
            telemetry: this.telemetry,
          },
          log,
          {
            concurrency: config.workerConcurrency,
            pollIntervalMs: this.o.pollIntervalMs ?? 2_000,
            nodeId: this.nodeId,
            leaseMs: config.leaseMs,
            maxAttempts: config.runMaxAttempts,
            retryDelayMs: config.runRetryDelayMs,
            // The input timeout's durable timer: every worker's sweep ends the runs past their deadline.
            ...(config.inputTimeoutMs !== undefined ? { expireWaits: () => runs.waits.expire() } : {}),
            telemetry: this.telemetry,
            ...(feed ? { inspector: feed } : {}),
            ...(this.o.onRefused ? { onRefused: this.o.onRefused } : {}),
          },
        )
      : undefined;
    this.worker = worker;
    if (worker) scheduler.useWorker(worker);

    await notifier.start({
      onEvents: (hints) => {
        hub?.hint(hints);
        followers?.hint(hints);
      },
      onCancel: (runId, reason) => void worker?.abort(runId, reason),
      onQueued: () => worker?.wake(),
      onReconnect: () => {
        hub?.repairAll(true);
        followers?.repairAll(true);
        worker?.wake();
      },
    });

    const auth = new AuthService({
      db,
      tokens: new TokenService(secret, config.tokenTtlSeconds),
      allowRegistration: config.allowRegistration,
      ...(onUserCreated ? { onUserCreated: (tx, user) => onUserCreated(user, { db: tx }) } : {}),
      ...(config.security.externalIdp ? { external: new ExternalTokenVerifier(config.security.externalIdp) } : {}),
      loginLimits: {
        perAccount: config.security.loginAttemptsPerAccount,
        perAddress: config.security.loginAttemptsPerAddress,
        windowMs: config.security.loginWindowMs,
        registrationsPerAddress: config.security.registrationsPerAddress,
      },
    });
    const accepting = () => this.acceptingWork;
    const feedback = new FeedbackService({ db, adminUsers: config.debug.adminUsers, usernameOf: (userId) => usernameOf(db, userId) });
    this.feedback = feedback;
    const frames = new FrameHandler({ runs, feedback, log, requestsPerMinute: config.requestsPerMinute, accepting, telemetry: this.telemetry });

    const server = new HttpServer(
      {
        auth,
        runs,
        threads,
        log,
        bodyMaxBytes: config.httpBodyMaxBytes,
        uploadUsage: async (userId, body, contentType) => {
          const parsed = parseUsageUpload(body, contentType);
          if (!parsed.ok) throw new AppError('bad_request', parsed.message);
          return insertUsage(db, userId, parsed.records, 'upload');
        },
        ready: async () => (await db.ping()) && (await queue.ready()),
        metrics: async () => {
          // Ratings are rows any node may change: read once per scrape.
          await feedback.refreshCounts().catch((err: unknown) => log.warn({ err }, 'reading the feedback counts failed'));
          return this.metrics();
        },
        feedback,
        accepting,
        ...(followers
          ? {
              frontEnds: {
                db,
                runs,
                followers,
                log,
                telemetry: this.telemetry,
                requests: frames.requests,
                allowedOrigins: () => config.allowedOrigins ?? [`http://localhost:${this.port}`, `http://127.0.0.1:${this.port}`],
              },
            }
          : {}),
        security: {
          metricsToken: config.security.metricsToken,
          httpRequestsPerMinute: config.security.httpRequestsPerMinute,
          clientAddressHeader: config.security.clientAddressHeader,
          bodyTimeoutMs: config.security.httpBodyTimeoutMs,
          onRevoked: (userId, version) => this.hub?.revoke(userId, version),
        },
      },
      hub
        ? {
            auth,
            runs,
            hub,
            frames,
            log,
            maxFrameBytes: config.maxFrameBytes,
            requestsPerMinute: config.requestsPerMinute,
            idleTimeoutSeconds: config.idleTimeoutSeconds,
            socketBufferBytes: config.socketBufferBytes,
            // This server's own page, at the port actually bound (PORT=0 picks one).
            allowedOrigins: () => config.allowedOrigins ?? [`http://localhost:${this.port}`, `http://127.0.0.1:${this.port}`],
            accepting,
            telemetry: this.telemetry,
            limits: {
              framesPerSecond: config.security.framesPerSecond,
              maxSocketsPerUser: config.security.maxSocketsPerUser,
              upgradeTimeoutMs: config.security.upgradeTimeoutMs,
            },
          }
        : undefined,
      feed
        ? (app) =>
            registerDebug(app, {
              access: new DebugAccess({
                token: config.debug.token,
                adminUsers: config.debug.adminUsers,
                authenticate: (jwt) => auth.authenticate(jwt),
                usernameOf: (userId) => usernameOf(db, userId),
              }),
              feed,
              login: (c) => auth.login(c),
              getRun: (runId) => getRun(db, runId),
              events: async (runId) => (await readEvents(db, runId, 0, 10_000)).map((e) => e.event as RunEvent),
              recentRuns: (limit) => recentRuns(db, limit),
              rating: async (runId) => {
                const f = await runFeedback(db, runId);
                return f ? { rating: f.rating, ...(f.comment ? { comment: f.comment } : {}) } : undefined;
              },
              allowedOrigins: () => config.allowedOrigins ?? [`http://localhost:${this.port}`, `http://127.0.0.1:${this.port}`],
              log,
              bodyTimeoutMs: config.security.httpBodyTimeoutMs,
              clientAddressHeader: config.security.clientAddressHeader,
            })
        : undefined,
    );
    feed?.start();
    this.server = server;
    // The address before the worker: a second process on a taken port stops here, having claimed no run.
    this.port = await server.listen(config.host, config.port);

    worker?.start();
    if (hub) {
      const every = Math.max(250, Math.floor(config.slowSocketCloseMs / 4));
      this.sweepTimer = setInterval(() => {
        const n = hub.closeStalled(config.slowSocketCloseMs);
        if (n > 0) log.warn({ sockets: n }, 'closed sockets that stopped reading');
      }, every);
      // A safety net under notifications: every run a socket carries is read to the end of its
      // log now and then, so an event whose announcement was lost still arrives.
      this.repairTimer = setInterval(() => {
        hub.repairAll();
        followers?.repairAll();
      }, 10_000);
      // Tokens revoked on another process (logout, password change) close this process's sockets too.
      this.revocationTimer = setInterval(() => {
        hub
          .checkRevocations(async (ids) => new Map([...(await tokenStates(db, ids))].map(([id, st]) => [id, st.tokenVersion])))
          .catch((err: unknown) => log.warn({ err }, 'revocation check failed'));
      }, config.security.revocationCheckMs);
    }
    this.acceptingWork = true;
    return this.port;
  }

  /** Gauges read at scrape time, and the worker's counters, beside the telemetry's own metrics. */
  private registerGauges(): void {
    const r = this.telemetry.registry;
    r.gauge('agentwire_open_sockets', 'Open client sockets on this node.', () => this.hub?.socketCount ?? 0);
    r.gauge('agentwire_sessions', 'Connected user sessions on this node.', () => this.hub?.sessionCount ?? 0);
    r.gauge('agentwire_runs_executing', 'Runs executing on this node.', () => this.worker?.activeRuns ?? 0);
    const outcomes = () => Object.entries(this.worker?.stats.outcomes ?? {}).map(([outcome, value]) => ({ labels: { outcome }, value }));
    // Counters kept by the worker, exposed with counter semantics.
    r.counterFrom('agentwire_run_attempts_total', 'Run attempts this node ended, by outcome.', outcomes, ['outcome']);
    r.counterFrom('agentwire_run_takeovers_total', 'Runs this node took over after their lease lapsed.', () => this.worker?.stats.takeovers ?? 0);
    r.counterFrom('agentwire_statechart_rejections_total', 'Events the run statechart refused.', () => this.worker?.stats.refusedEvents ?? 0);
    r.gauge('agentwire_feedback_ratings', 'Runs rated by their users, by agent and rating (a changed rating moves).', () => this.feedback?.ratingSamples() ?? [], ['agent', 'rating']);
    r.gauge('agentwire_feedback_positive_ratio', 'Share of the ratings of each agent that are "up" (0 to 1).', () => this.feedback?.shareSamples() ?? [], ['agent']);
    this.eventLoopLag = new EventLoopLag(r);
    r.defaults();
  }

  private metrics(): Promise<string> {
    return this.telemetry.registry.render();
  }

  /** The run queue (for tests and tools that inspect state, through pg-boss's API). */
  get runQueue(): RunQueue {
    if (!this.queue) throw new Error('runtime not started');
    return this.queue;
  }

  /** The run service (the test harness starts runs through it, as a socket's `agent_request` does). */
  /** Runs executing on this node's worker now (0 on a gateway): a waiting run holds none. */
  get activeRuns(): number {
    return this.worker?.activeRuns ?? 0;
  }

  get runService(): RunService {
    if (!this.runs) throw new Error('runtime not started');
    return this.runs;
  }

  /** The database (for tests and tools that inspect state). */
  get database(): Db {
    if (!this.db) throw new Error('runtime not started');
    return this.db;
  }

  /** Session actors' states (debugging, tests). */
  sessionStates() {
    return this.hub?.sessionStates() ?? [];
  }

  /**
   * Idempotent. Stops accepting (new requests get `unavailable`, /readyz 503), closes sockets
   * with 1001, hands running runs back (leases released: another worker or the next start
   * continues them), then closes storage.
   */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    await this.startPromise?.catch(() => undefined);
    this.acceptingWork = false;
    clearInterval(this.sweepTimer);
    clearInterval(this.repairTimer);
    this.debugFeed?.stop();
    clearInterval(this.revocationTimer);
    this.server?.stopListening();
    this.hub?.closeAll(1001, 'server shutting down; reconnect and resume');
    await this.worker?.stop();
    await this.notifier?.stop();
    await this.queue?.stop().catch((err: unknown) => this.o.log.warn({ err }, 'queue stop failed'));
    await this.db?.close();
    this.unlockDataDir?.();
    this.unlockDataDir = undefined;
    this.eventLoopLag?.stop();
    await this.tracing?.shutdown().catch((err: unknown) => this.o.log.warn({ err }, 'trace exporter shutdown failed'));
  }
}
