// A TCP proxy in front of a test server: `cut()` drops every connection through it at once,
// the way a network fault or a dying load balancer would.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface CuttableProxy {
  port: number;
  url: string;
  cuts: number;
  cut(): number;
  close(): Promise<void>;
}

/** `target` may be a function: the proxy can then be started (its address known) before the server. */
export async function startProxy(target: number | (() => number)): Promise<CuttableProxy> {
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    const upstream = connect(typeof target === 'number' ? target : target(), '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const proxy: CuttableProxy = {
    port,
    url: `http://127.0.0.1:${port}`,
    cuts: 0,
    cut() {
      const n = pairs.size;
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      proxy.cuts++;
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        proxy.cut();
        server.close(() => resolve());
      }),
  };
  return proxy;
}
