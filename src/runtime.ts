// The composition root: builds the parts in data-path order and stops them in reverse.
import { join } from 'node:path';
import { createAnalystAgent, analystTools } from './agents/analyst/index.js';
import { AgentRegistry } from './agents/registry.js';
import type { Agent } from './agents/types.js';
import { AuthService } from './auth/service.js';
import { TokenService } from './auth/tokens.js';
import type { Config } from './config/index.js';
import { loadOrCreateSecret } from './config/secret.js';
import type { Logger } from './log/logger.js';
import { AppError } from './protocol/errors.js';
import { LocalRunEventBus } from './runs/bus.js';
import { RunQueue } from './runs/queue.js';
import { RunService } from './runs/service.js';
import { ThreadService } from './runs/threads.js';
import { RunWorker } from './runs/worker.js';
import { FrameHandler } from './session/frames.js';
import { SessionHub } from './session/hub.js';
import type { Db } from './store/db.js';
import { readEvents } from './store/event-log.js';
import { migrate } from './store/migrations.js';
import { createPgDb } from './store/pg.js';
import { createPgliteDb } from './store/pglite.js';
import { insertUsage, usageReader } from './store/usage.js';
import { HttpServer } from './transport/server.js';
import { parseUsageUpload, sampleUsage } from './usage/index.js';

export interface RuntimeOptions {
  config: Config;
  log: Logger;
  /** Extra agents (tests register their own deterministic agents here). */
  agents?: Agent[];
  /** Worker polling safety net; runs accepted on this node never wait for it. */
  pollIntervalMs?: number;
  toolTimeoutMs?: number;
}

export class Runtime {
  private db: Db | undefined;
  private queue: RunQueue | undefined;
  private worker: RunWorker | undefined;
  private server: HttpServer | undefined;
  private hub: SessionHub | undefined;
  private acceptingWork = false;
  private startPromise: Promise<number> | undefined;
  private stopPromise: Promise<void> | undefined;
  port = 0;

  constructor(private readonly o: RuntimeOptions) {}

  /** Idempotent; resolves with the bound port. */
  start(): Promise<number> {
    this.startPromise ??= this.doStart();
    return this.startPromise;
  }

  private async doStart(): Promise<number> {
    const { config, log } = this.o;
    const secret = config.jwtSecret ?? loadOrCreateSecret(config.dataDir).secret;
    if (!config.jwtSecret && config.databaseUrl) {
      log.warn('JWT_SECRET is not set: using the one kept in the data directory; set it so every process shares it');
    }

    const db = config.databaseUrl
      ? createPgDb({ connectionString: config.databaseUrl, log })
      : await createPgliteDb({ dataDir: join(config.dataDir, 'pglite') });
    this.db = db;
    const applied = await migrate(db);
    if (applied.length > 0) log.info({ applied }, 'migrations applied');

    const queue = new RunQueue(db, log, { expireInSeconds: 15 * 60 });
    this.queue = queue;
    await queue.start();

    const agents = new AgentRegistry().addAgent(createAnalystAgent());
    for (const t of analystTools) agents.addTool(t);
    for (const a of this.o.agents ?? []) agents.addAgent(a);
    if (!agents.agent(config.defaultAgent)) throw new Error(`DEFAULT_AGENT ${config.defaultAgent} is not a registered agent`);

    const hub = new SessionHub({ read: (runId, after, limit) => readEvents(db, runId, after, limit) }, log);
    this.hub = hub;
    const bus = new LocalRunEventBus((userId, stored) => hub.deliver(userId, stored));
    const threads = new ThreadService(db);

    // The run service and the worker refer to each other; the closures run only after both exist.
    const runs: RunService = new RunService({
      db,
      queue,
      bus,
      agents,
      defaultAgent: config.defaultAgent,
      wakeWorker: () => worker.wake(),
      abortLocal: (runId, reason) => worker.abort(runId, reason),
      onAccepted: (userId, runId) => hub.runActive(userId, runId),
    });
    const worker: RunWorker = new RunWorker(
      db,
      queue,
      bus,
      {
        db,
        agents,
        log,
        usageFor: (userId) => usageReader(db, userId),
        history: (threadId, runId) => threads.history(threadId, runId),
        afterTerminal: async (tx, run) => {
          if (await runs.promoteNext(tx, run.thread_id)) queueMicrotask(() => worker.wake());
        },
        toolTimeoutMs: this.o.toolTimeoutMs ?? 30_000,
      },
      log,
      { concurrency: config.workerConcurrency, pollIntervalMs: this.o.pollIntervalMs ?? 2_000 },
    );
    this.worker = worker;

    const auth = new AuthService({
      db,
      tokens: new TokenService(secret, config.tokenTtlSeconds),
      allowRegistration: config.allowRegistration,
      onUserCreated: async (tx, user) => {
        await insertUsage(tx, user.id, sampleUsage(user.id, new Date()), 'sample');
      },
    });
    const accepting = () => this.acceptingWork;
    const frames = new FrameHandler({ runs, log, requestsPerMinute: config.requestsPerMinute, accepting });

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
        metrics: () => this.metrics(),
        accepting,
      },
      {
        auth,
        runs,
        hub,
        frames,
        log,
        maxFrameBytes: config.maxFrameBytes,
        requestsPerMinute: config.requestsPerMinute,
        idleTimeoutSeconds: config.idleTimeoutSeconds,
        socketBufferBytes: config.socketBufferBytes,
        allowedOrigins: config.allowedOrigins ?? [`http://localhost:${config.port}`, `http://127.0.0.1:${config.port}`],
        accepting,
      },
    );
    this.server = server;

    worker.start();
    this.acceptingWork = true;
    this.port = await server.listen(config.host, config.port);
    return this.port;
  }

  private metrics(): string {
    const lines = [
      '# HELP agentwire_open_sockets Open client sockets on this node.',
      '# TYPE agentwire_open_sockets gauge',
      `agentwire_open_sockets ${this.hub?.socketCount ?? 0}`,
      '# HELP agentwire_sessions Connected user sessions on this node.',
      '# TYPE agentwire_sessions gauge',
      `agentwire_sessions ${this.hub?.sessionCount ?? 0}`,
      '# HELP agentwire_runs_executing Runs executing on this node.',
      '# TYPE agentwire_runs_executing gauge',
      `agentwire_runs_executing ${this.worker?.activeRuns ?? 0}`,
      '# HELP agentwire_statechart_rejections_total Events the run statechart refused.',
      '# TYPE agentwire_statechart_rejections_total counter',
      `agentwire_statechart_rejections_total ${this.worker?.refusedEvents ?? 0}`,
    ];
    return `${lines.join('\n')}\n`;
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
   * Idempotent. Stops accepting, closes sockets with 1001, ends running runs (they are cancelled
   * here; handing them over to another worker is the fault-tolerance work), then closes storage.
   */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    await this.startPromise?.catch(() => undefined);
    this.acceptingWork = false;
    this.server?.stopListening();
    this.hub?.closeAll(1001, 'server shutting down; reconnect and resume');
    await this.worker?.stop({ abortRunning: true, reason: 'server shutting down' });
    await this.queue?.stop().catch((err: unknown) => this.o.log.warn({ err: String(err) }, 'queue stop failed'));
    await this.db?.close();
  }
}
