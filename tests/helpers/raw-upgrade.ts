// An upgrade request made by hand, for tests that need the raw HTTP answer (status, headers, body)
// of a refused or accepted WebSocket upgrade.
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { UpgradeRefused, type TestClient } from './client.js';
import type { TestServer } from './server.js';

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An upgrade request by hand: the 101 with its headers, or the refusal with its body. */
export function rawUpgrade(server: TestServer, headers: Record<string, string>, query = '', path = '/v1/ws'): Promise<RawAnswer> {
  const url = new URL(`${server.url}${path}${query}`);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a socket expecting a refusal: the HTTP status (101 if it opened, and then it is closed). */
export async function upgradeStatus(open: Promise<TestClient>): Promise<number> {
  try {
    const c = await open;
    c.terminate();
    return 101;
  } catch (err) {
    if (err instanceof UpgradeRefused) return err.status;
    throw err;
  }
}
