// Runs one agentwire process until a signal stops it: parse config, start the runtime, print
// where it listens. The first SIGTERM/SIGINT drains (runs handed back, sockets closed with
// 1001); a second one, or SHUTDOWN_GRACE_MS, exits at once.
import type { Agent, Tool } from './agents/types.js';
import { ConfigError, loadConfig, type Config } from './config/index.js';
import { createLogger } from './log/logger.js';
import { Runtime } from './runtime.js';

export async function runServer(extra: { agents?: Agent[]; tools?: Tool[] } = {}): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`agentwire: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
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
    await runtime.stop().catch(() => undefined);
    process.exit(1);
  }
}
