// The uWS app: routes and the socket endpoint, listening and closing.
import uWS, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import { registerRoutes, type RouteDeps } from './routes.js';
import { registerWebApp } from './web.js';
import { registerWebSocket, type SocketRegistry, type WsDeps } from './ws.js';

export class HttpServer {
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | undefined;
  /** This process's open sockets (revocation closes them); undefined on a worker-only process. */
  readonly sockets: SocketRegistry | undefined;

  /**
   * Without `ws` (a worker-only process) only the health and metrics routes are served.
   * `extra` registers more routes before the catch-all (the statechart visualizer).
   */
  constructor(routes: RouteDeps, ws: WsDeps | undefined, extra?: (app: TemplatedApp) => void) {
    this.app = uWS.App();
    if (ws) {
      this.sockets = registerWebSocket(this.app, ws);
      registerWebApp(this.app, ws.allowedOrigins);
    }
    extra?.(this.app);
    registerRoutes(this.app, routes, { gateway: ws !== undefined });
  }

  /** Resolves with the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (sock) => {
        if (!sock) return reject(new Error(`cannot listen on ${host}:${port}`));
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
