// Runs one agentwire process until a signal stops it: parse config, start the runtime, print
// where it listens. The first SIGTERM/SIGINT drains (runs handed back, sockets closed with
// 1001); a second one, or SHUTDOWN_GRACE_MS, exits at once.
//
// Exit codes: 0 after a clean shutdown; 1 any other failure; 2 a configuration error; 3 the
// address cannot be taken (the port is in use); 4 the data directory is held by another process.
import type { Agent, Tool } from './agents/types.js';
import { DataDirLocked } from './config/data-dir-lock.js';
import { ConfigError, configWarnings, loadConfig, type Config } from './config/index.js';
import { createLogger } from './log/logger.js';
import { Runtime } from './runtime.js';
import { ListenError } from './transport/server.js';

export const EXIT = { failed: 1, config: 2, address: 3, dataDirLocked: 4 } as const;

export async function runServer(extra: { agents?: Agent[]; tools?: Tool[] } = {}): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`agentwire: ${err.message}\n`);
      process.exit(EXIT.config);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  for (const warning of configWarnings(config)) log.warn(warning);
  const runtime = new Runtime({ config, log, ...extra });
  // A bug must not take every user's sockets down with it: log it, keep serving.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
    const force = setTimeout(() => {
      log.warn('shutdown grace period over: exiting now');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    runtime.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    const port = await runtime.start();
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    log.info(
      {
        url,
        websocket: `${url.replace('http', 'ws')}/v1/ws`,
        role: config.role,
        node: runtime.nodeId,
        database: config.databaseUrl ? 'postgresql' : `pglite (${config.dataDir})`,
      },
      `agentwire listening on ${url}`,
    );
  } catch (err) {
    log.fatal({ err }, 'start failed');
    await runtime.stop().catch((stopErr: unknown) => log.error({ err: stopErr }, 'stop after a failed start failed'));
    // The two failures an operator fixes by hand, said plainly on stderr too.
    if (err instanceof ListenError || err instanceof DataDirLocked) process.stderr.write(`agentwire: ${err.message}\n`);
    process.exit(err instanceof ListenError ? EXIT.address : err instanceof DataDirLocked ? EXIT.dataDirLocked : EXIT.failed);
  }
}
