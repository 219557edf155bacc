// The uWS app: routes and the socket endpoint, listening and closing.
import { createServer } from 'node:net';
import uWS, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import { registerRoutes, type RouteDeps } from './routes.js';
import { registerWebApp } from './web.js';
import { registerWebSocket, type WsDeps } from './ws.js';

/** uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT: listen without SO_REUSEPORT (exported by the addon, typed only as an enum). */
const EXCLUSIVE_PORT = (uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT;

export class HttpServer {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | undefined;
  /**
   * Without `ws` (a worker-only process) only the health and metrics routes are served.
   * `extra` registers more routes before the catch-all (the statechart visualizer).
   */
  constructor(routes: RouteDeps, ws: WsDeps | undefined, extra?: (app: TemplatedApp) => void) {
    this.app = uWS.App();
    if (ws) {
      registerWebSocket(this.app, ws);
      registerWebApp(this.app, routes.log, ws.allowedOrigins);
    }
    extra?.(this.app);
    registerRoutes(this.app, routes, { gateway: ws !== undefined });
  }

  /**
   * Resolves with the bound port (useful with port 0). The port is taken exclusively: uWS would
   * otherwise set SO_REUSEPORT, and a second process on the same port would start without a word
   * and take half the connections. A port already taken rejects with a ListenError.
   */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      // The typings know `listen(port, options, cb)` only; the addon also takes the host first.
      (this.app as unknown as ListenWithOptions).listen(host, port, EXCLUSIVE_PORT, (sock) => {
        if (!sock) {
          void whyNotListening(host, port).then((reason) => reject(new ListenError(host, port, reason)));
          return;
        }
        this.listenSocket = sock;
        resolve(uWS.us_socket_local_port(sock));
      });
    });
  }

  /** Stops accepting connections; open sockets stay until closed by their owners. */
  stopListening(): void {
    if (this.listenSocket) {
      uWS.us_listen_socket_close(this.listenSocket);
      this.listenSocket = undefined;
    }
  }
}

interface ListenWithOptions {
  listen(host: string, port: number, options: number, cb: (sock: us_listen_socket | false) => void): TemplatedApp;
}

/** The server could not take its address; `code` is the system's reason when it could be learned (EADDRINUSE, EACCES, …). */
export class ListenError extends Error {
  override name = 'ListenError';
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: string | undefined,
  ) {
    super(
      code === 'EADDRINUSE'
        ? `port ${port} on ${host} is already in use (another agentwire, or another program, listens there)`
        : `cannot listen on ${host}:${port}${code ? ` (${code})` : ''}`,
    );
  }
}

/** uWS says only "no"; Node's listener, tried on the same address, says why. */
function whyNotListening(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}
