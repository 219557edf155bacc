// Small tools the attack suite shares: raw upgrades, refused-status probes, leak checks.
import type { TestClient} from '../helpers/client.js';
import type { TestServer } from '../helpers/server.js';
export { rawUpgrade, upgradeStatus, type RawAnswer } from '../helpers/raw-upgrade.js';

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
