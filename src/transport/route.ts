// The one wrapper of every HTTP route, for both servers (the API in routes.ts, the visualizer in
// debug/server.ts). uWS's request lives only until the handler's first await and uWS hands the
// body only to a reader attached before it, so both are taken here, synchronously, before the
// handler runs; whatever the handler throws becomes an error answer, and an unexpected error is
// logged with its stack.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { withoutSecrets, type Logger } from '../log/logger.js';
import { AppError, toAppError } from '../protocol/errors.js';
import { clientAddress, readReq, Res, type Req } from './http.js';

export interface RouteRequest extends Req {
  /** The body of a route declared with `body`; rejects (already answered 413 or 408) when too large or too slow. */
  body(): Promise<Buffer>;
}

export type RouteHandler = (req: RouteRequest, res: Res) => Promise<void>;

export interface RouteShape {
  /** How many `:params` the pattern has. */
  params?: number;
  /** The route takes a body of at most this many bytes. */
  body?: number;
}

export interface RouterOptions {
  log: Logger;
  /** A body not received whole within this is answered 408 (HTTP_BODY_TIMEOUT_MS; 30 s when not given). */
  bodyTimeoutMs?: number;
  /** Where a trusted proxy puts the client's address (CLIENT_ADDRESS_HEADER). */
  clientAddressHeader?: string | undefined;
}

/** Makes uWS handlers from route handlers. */
export function router(o: RouterOptions): (shape: RouteShape, handler: RouteHandler) => (res: HttpResponse, req: HttpRequest) => void {
  return (shape, handler) => (res, req) => {
    const r = new Res(res);
    const request = readReq(req, shape.params ?? 0, clientAddress(res, req, o.clientAddressHeader));
    let pending: Promise<Buffer> | undefined;
    if (shape.body !== undefined) {
      pending = r.body(shape.body, o.bodyTimeoutMs ?? 30_000);
      // Answered by the reader itself; the handler sees the rejection when it awaits the body.
      pending.catch(() => undefined);
    }
    const routeRequest: RouteRequest = {
      ...request,
      body: () => pending ?? Promise.reject(new Error(`route ${request.method} ${request.path} takes no body`)),
    };
    let done: Promise<void>;
    try {
      done = handler(routeRequest, r);
    } catch (err) {
      done = Promise.reject(err);
    }
    done.catch((err: unknown) => {
      if (unexpected(err)) o.log.error({ err, method: request.method, path: request.path }, 'request failed');
      r.error(err);
    });
  };
}

/** Worth a log line with a stack: anything but a deliberate refusal (an internal or unavailable answer made from something thrown counts). */
function unexpected(err: unknown): boolean {
  return !(err instanceof AppError) || ((err.code === 'internal' || err.code === 'unavailable') && err.cause !== undefined);
}

/**
 * Runs a credential check (a token, a password). Whatever it throws may quote the credential, so
 * it leaves as a protocol error whose cause has the credential replaced (`withoutSecrets`).
 */
export function checkingCredential<T>(credentials: readonly string[], check: () => Promise<T>): Promise<T> {
  return check().catch((err: unknown) => {
    throw toAppError(withoutSecrets(err, credentials));
  });
}
