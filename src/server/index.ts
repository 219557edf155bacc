// `createServer`: one agentwire server in this process. The native uWebSockets.js check runs
// before the runtime (and uWS with it) is loaded, so a Node without a native build gets one clear
// error instead of a server that dies at its first request.
import { checkUws } from '../startup/uws-check.js';
import type { ToolContextFactory } from '../agents/types.js';
import type { Server, ServerOptions } from './types.js';

export type { Server, ServerOptions } from './types.js';

/** Tools that need more than the generic context make `toolContext` required. */
type NeedsContext<C extends object> = object extends C ? unknown : { toolContext: ToolContextFactory<C> };

/**
 * Starts a server: checks every option (an `OptionsError` names each problem: an unknown option,
 * two agents or tools with one name, a `defaultAgent` nobody registered, a tool input that is not a
 * zod schema …), opens the database (embedded PGlite in `dataDir` unless `databaseUrl` is set),
 * applies migrations and listens. Resolves once it accepts requests.
 */
export async function createServer<C extends object = object>(options: ServerOptions<C> & NeedsContext<C>): Promise<Server> {
  const uws = checkUws();
  if (!uws.ok) throw new Error(`agentwire: ${uws.message}`);
  const { prepare, serverUrl } = await import('./prepare.js');
  const { runtime, config } = prepare(options as ServerOptions);
  try {
    const port = await runtime.start();
    const url = serverUrl(config.host, port);
    return { url, wsUrl: `${url.replace(/^http/, 'ws')}/v1/ws`, port, nodeId: runtime.nodeId, close: () => runtime.stop() };
  } catch (err) {
    await runtime.stop().catch(() => undefined);
    throw err;
  }
}
