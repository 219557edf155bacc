// The public shape of `createServer`'s options and of the running server.
import type { TracerProvider } from '@opentelemetry/api';
import type { Agent, Tool, ToolContextFactory, UserCreatedHook } from '../agents/types.js';
import type { Settings } from '../config/options.js';
import type { Logger } from '../log/logger.js';

/**
 * Everything a server runs with. Every setting is optional and has the default of its environment
 * variable (README, "Configuration"). `C` is what `toolContext` adds to each tool call's context:
 * tools declared with `ToolContext & C` get it.
 */
export type ServerOptions<C extends object = object> = Settings & {
  /** The agents this server offers. A request names one by `agent`; unnamed, `defaultAgent` runs. */
  agents?: readonly Agent[];
  /** The tools agents call through `ctx.callTool`. */
  tools?: ReadonlyArray<Tool<unknown, unknown, C>>;
  /** Called for each tool call; its fields are merged into the tool's context. */
  toolContext?: ToolContextFactory<C>;
  /** Runs in the transaction that registers a user (`POST /v1/auth/register`). */
  onUserCreated?: UserCreatedHook;
  /** A pino logger to log to; unset: JSON lines on stdout at `logLevel`. */
  logger?: Logger;
  /** Spans go to this OpenTelemetry provider instead of the exporter `telemetry` configures. */
  tracerProvider?: TracerProvider;
};

/** A running server. */
export interface Server {
  /** `http://host:port` (the port actually bound: `port: 0` picks a free one). */
  readonly url: string;
  /** The WebSocket endpoint: `ws://host:port/v1/ws`. */
  readonly wsUrl: string;
  readonly port: number;
  /** Names this process in run leases and logs (`nodeId`, random unless set). */
  readonly nodeId: string;
  /**
   * Graceful shutdown (what SIGTERM does to `npm start`): stops accepting, closes sockets with
   * 1001 (clients reconnect and resume elsewhere), hands running runs back for another worker or
   * the next start, then closes the database. Idempotent.
   */
  close(): Promise<void>;
}
