// `npm start` (and the `agentwire` bin): one agentwire process with the built-in agents, set up
// from the environment and run until a signal stops it. The environment becomes `createServer`'s
// options (src/config/env.ts); the analyst is registered like anyone's agent. The first
// SIGTERM/SIGINT drains (runs handed back, sockets closed with 1001); a second one, or
// SHUTDOWN_GRACE_MS, exits at once.
//
// Exit codes: 0 after a clean shutdown; 1 any other failure; 2 a configuration error; 3 the
// address cannot be taken (the port is in use); 4 the data directory is held by another process.
import { analyst } from './agents/analyst/index.js';
import type { Agent, Tool } from './agents/types.js';
import { DataDirLocked } from './config/data-dir-lock.js';
import { ConfigError, settingsFromEnv, type ResolvedSettings } from './config/index.js';
import { envIssue } from './config/env.js';
import { OptionsError } from './config/options.js';
import { createLogger } from './log/logger.js';
import { createServer, type Server } from './server/index.js';
import { ListenError } from './transport/server.js';

export const EXIT = { failed: 1, config: 2, address: 3, dataDirLocked: 4 } as const;

const configError = (message: string): never => {
  process.stderr.write(`agentwire: ${message}\n`);
  process.exit(EXIT.config);
};

/**
 * `npx agentwire` (npm exec) runs the server under `sh -c`, and npm passes a SIGTERM to the shell,
 * which dies without passing it on: the server would be left holding the port and the data
 * directory with no parent. A server that npm started therefore follows its parent: when the
 * parent is gone, it shuts down as on SIGTERM. (`npm start` execs node, so npm's signal reaches it.)
 */
function followParent(onGone: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, 500);
  timer.unref();
}

export interface RunServerOptions {
  /** More agents and tools beside the built-in ones (the benchmark's and fault tests' processes). */
  agents?: readonly Agent[];
  tools?: ReadonlyArray<Tool<unknown, unknown, never>>;
  /** Started by npm (`npm start`, `npx agentwire`): shut down when npm is gone. */
  followParent?: boolean;
}

export async function runServer(extra: RunServerOptions = {}): Promise<void> {
  let settings: ResolvedSettings;
  try {
    settings = settingsFromEnv();
  } catch (err) {
    if (err instanceof ConfigError) return configError(err.message);
    throw err;
  }
  const log = createLogger(settings.logLevel);
  // A bug must not take every user's sockets down with it: log it, keep serving.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

  let server: Server | undefined;
  let stopping = false;
  const stop = (s: Server) =>
    s.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal, graceMs: settings.shutdownGraceMs }, 'shutting down');
    const force = setTimeout(() => {
      log.warn('shutdown grace period over: exiting now');
      process.exit(1);
    }, settings.shutdownGraceMs);
    force.unref();
    stopping = true;
    // During the start, the server is closed as soon as it is up (below).
    if (server) void stop(server);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (extra.followParent) {
    followParent(() => {
      log.warn({ parent: 'gone' }, 'the npm process that started this server is gone: shutting down');
      onSignal('SIGTERM');
    });
  }

  const builtIn = analyst();
  try {
    // The analyst is registered like anyone's agent: its agents, tools, tool context and sample data.
    server = await createServer({
      ...settings,
      ...builtIn,
      agents: [...builtIn.agents, ...(extra.agents ?? [])],
      tools: [...builtIn.tools, ...((extra.tools ?? []) as typeof builtIn.tools)],
      logger: log,
    });
  } catch (err) {
    // An option the environment set is named by its variable (LLM_AGENT_NAME, not llm.name).
    if (err instanceof OptionsError) return configError(`invalid configuration:\n${err.issues.map(envIssue).map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
    log.fatal({ err }, 'start failed');
    // The two failures an operator fixes by hand, said plainly on stderr too.
    if (err instanceof ListenError || err instanceof DataDirLocked) process.stderr.write(`agentwire: ${err.message}\n`);
    process.exit(err instanceof ListenError ? EXIT.address : err instanceof DataDirLocked ? EXIT.dataDirLocked : EXIT.failed);
  }
  log.info(
    {
      url: server.url,
      websocket: server.wsUrl,
      role: settings.role,
      node: server.nodeId,
      database: settings.databaseUrl ? 'postgresql' : `pglite (${settings.dataDir})`,
    },
    `agentwire listening on ${server.url}`,
  );
  if (stopping) void stop(server);
}
