// Answering a WebSocket upgrade after an await, for both socket endpoints (`/v1/ws` and the
// visualizer's `/debug/ws`): one way to refuse, one way to accept.
//
// Why `acceptUpgrade` is shaped as it is. uWS wants every write made after an await inside
// `res.cork`, and prints "Warning: uWS.HttpResponse writes must be made from within a corked
// callback" to stderr for each one that is not (one line per socket when the upgrade is not
// corked). But this uWS build's `HttpResponse::cork` has a bug when the callback upgrades
// (uNetworking/uWebSockets#1928, fixed upstream by #1929): after the callback it checks whether
// the socket is still an HTTP socket by comparing addresses, and the upgrade's `realloc` shrinks
// the socket in place, so the check passes and uWS reads the HTTP response's state from the part
// of the block the realloc has just freed. When the "connection: close" bit is set there, it
// closes the brand-new WebSocket right after `open`. That freed memory still holds the request's
// own state (we refuse every upgrade that asks to close) unless something allocates it again
// before the check, and the only code that runs in between is the `open` handler. So `open` does
// nothing but record the socket (`recordOpen`), and the socket's real work starts after `cork`
// returns, once uWS is done with it (measured: a native allocation of ~90 bytes in `open` closed
// every socket so opened; the test in tests/e2e/socket-burst.test.ts opens hundreds and checks
// that none is closed and no warning is printed).
import type { HttpResponse, WebSocket, us_socket_context_t } from 'uWebSockets.js';
import { errorAnswer, writeAnswer } from './http.js';

/**
 * What `acceptUpgrade` learns while uWS upgrades. uWS copies the user data's fields onto the
 * socket object (`getUserData()` is the socket, not the object given), so the news travels in a
 * shared holder.
 */
interface OpeningState<T> {
  ws?: WebSocket<T>;
  closed?: boolean;
}

/** The per-socket data of an upgrade accepted through `acceptUpgrade`. */
export interface Opening<T> {
  opening?: OpeningState<T>;
}

/**
 * Refuses an upgrade with an HTTP error answer built like every route's (status from the code,
 * `{error: {code, message, retryAfterMs?}}`, security headers, CSP, Retry-After). Returns the status.
 */
export function refuseUpgrade(res: HttpResponse, err: unknown): number {
  const a = errorAnswer(err);
  res.cork(() => writeAnswer(res, a.status, a.body, 'application/json', a.headers, false));
  return a.status;
}

/** The endpoint's whole `open` handler: anything more belongs after `acceptUpgrade` returns (see above). */
export function recordOpen<T extends Opening<T>>(ws: WebSocket<T>): void {
  const o = ws.getUserData().opening;
  if (o) o.ws = ws;
}

/** To be called first in the endpoint's `close` handler. */
export function recordClose<T extends Opening<T>>(ws: WebSocket<T>): void {
  const o = ws.getUserData().opening;
  if (o) o.closed = true;
}

/** Upgrades (corked, the 101 in one write); the open socket, or undefined if it is already gone. */
export function acceptUpgrade<T extends Opening<T>>(
  res: HttpResponse,
  data: T,
  key: string,
  protocol: string,
  extensions: string,
  context: us_socket_context_t,
): WebSocket<T> | undefined {
  const opening: OpeningState<T> = {};
  res.cork(() => res.upgrade<T>({ ...data, opening }, key, protocol, extensions, context));
  return opening.closed ? undefined : opening.ws;
}
