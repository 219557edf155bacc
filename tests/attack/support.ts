// Small tools the attack suite shares: raw upgrades, refused-status probes, leak checks.
import fc from 'fast-check';
import type { TestClient } from '../helpers/client.js';
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

/**
 * Text a database cannot store as it is, mixed with ordinary characters: NUL (U+0000) and lone
 * UTF-16 surrogates (a high surrogate followed by a low one is a valid pair, and is kept).
 */
export const hostileUnit = fc.oneof(
  { arbitrary: fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff'), weight: 2 },
  { arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), weight: 4 },
);
export const hostileString = (maxLength: number) => fc.string({ unit: hostileUnit, maxLength });

/** An answer that is never valid to any input: `internal`, or any 5xx. */
export const isServerFailure = (code: string | undefined, status?: number): boolean =>
  code === 'internal' || (status !== undefined && status >= 500);
