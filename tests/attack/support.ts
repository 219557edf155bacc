// Small tools the attack suite shares: raw upgrades, refused-status probes, leak checks.
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { TestClient} from '../helpers/client.js';
import { UpgradeRefused } from '../helpers/client.js';
import type { TestServer } from '../helpers/server.js';

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An upgrade request by hand: the 101 with its headers, or the refusal with its body. */
export function rawUpgrade(server: TestServer, headers: Record<string, string>, query = ''): Promise<RawAnswer> {
  const url = new URL(`${server.url}/v1/ws${query}`);
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

export async function httpStatus(server: TestServer, token: string, path = '/v1/threads'): Promise<number> {
  const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Waits for session_ready, failing at once (not by timeout) if the socket closes first. */
export function ready(client: TestClient) {
  return Promise.race([
    client.waitType('session_ready'),
    client.closed.then((code) => {
      throw new Error(`socket closed with ${code} before session_ready`);
    }),
  ]);
}

/** The secrets of another user that must never appear in what an attacker receives. */
export interface Secrets {
  ids: string[];
  texts: string[];
}

/** The first secret found in `text`, or undefined. Refusals echo the attacker's own ids, so those are not leaks. */
export function leakIn(text: string, s: Secrets, echoed: readonly string[] = []): string | undefined {
  for (const t of s.texts) if (text.includes(t)) return t;
  for (const id of s.ids) if (text.includes(id) && !echoed.some((e) => e.includes(id))) return id;
  return undefined;
}
