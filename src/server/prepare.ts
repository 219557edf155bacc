// `createServer`'s options → a runtime ready to start. Imports the runtime (and with it
// uWebSockets.js): load this module only after the native uWS check (../startup/uws-check.ts).
import type { TracerProvider } from '@opentelemetry/api';
import { buildRegistry } from '../agents/registry.js';
import { configWarnings, toConfig, type Config } from '../config/index.js';
import { issuesOf, OptionsError, serverOptionsSchema, settingsShape, type ResolvedSettings } from '../config/options.js';
import { createLogger, type Logger } from '../log/logger.js';
import { Runtime, type RuntimeOptions } from '../runtime.js';
import type { ServerOptions } from './types.js';

export interface Prepared {
  runtime: Runtime;
  config: Config;
  log: Logger;
}

/** Checks every option (throws `OptionsError` naming each problem) and builds the runtime, not started. */
export function prepare(options: ServerOptions, internal: Pick<RuntimeOptions, 'pollIntervalMs' | 'onRefused' | 'onEvent'> = {}): Prepared {
  const parsed = serverOptionsSchema.safeParse(options);
  if (!parsed.success) {
    // The agents' and tools' problems in the same error: all of them fixed in one go.
    const issues = issuesOf(parsed.error);
    try {
      buildRegistry({ agents: options.agents, tools: options.tools, log: createLogger('silent') });
    } catch (err) {
      if (err instanceof OptionsError) issues.push(...err.issues);
    }
    throw new OptionsError(issues);
  }
  const o = parsed.data;
  const settings = Object.fromEntries(Object.keys(settingsShape).map((k) => [k, o[k as keyof typeof o]])) as ResolvedSettings;
  const config = toConfig(settings);
  const log = (options.logger as Logger | undefined) ?? createLogger(config.logLevel);
  const runtime = new Runtime({
    config,
    log,
    agents: options.agents ?? [],
    tools: options.tools ?? [],
    ...(options.toolContext ? { toolContext: options.toolContext as RuntimeOptions['toolContext'] } : {}),
    ...(options.onUserCreated ? { onUserCreated: options.onUserCreated } : {}),
    ...(options.tracerProvider ? { tracerProvider: options.tracerProvider as TracerProvider } : {}),
    ...internal,
  });
  for (const warning of configWarnings(config)) log.warn(warning);
  return { runtime, config, log };
}

/** `http://host:port`, with an IPv6 host in brackets. */
export const serverUrl = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
