// Small helpers over uWS's HTTP objects. uWS's request is valid only during the handler's first
// synchronous part, so everything needed is copied out first; responses written after an await
// are corked and skipped when the client went away.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { AppError, HTTP_STATUS, errorBody, toAppError } from '../protocol/errors.js';

export interface Req {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: { authorization: string; contentType: string; contentLength: string; cookie: string; origin: string };
  params: string[];
  /** The client's address: the peer's, or the one a trusted proxy put in CLIENT_ADDRESS_HEADER. */
  address: string;
}

/**
 * The client address of a request (for per-address limits). Read before the first await. From a
 * proxy's header the last entry is taken: the one the proxy itself appended (earlier entries of
 * an X-Forwarded-For come from the client and can be anything).
 */
export function clientAddress(res: HttpResponse, req: HttpRequest, header: string | undefined): string {
  if (header) {
    const v = req.getHeader(header).split(',').at(-1)?.trim();
    if (v) return v.slice(0, 64);
  }
  return Buffer.from(res.getRemoteAddressAsText()).toString('utf8');
}

export function readReq(req: HttpRequest, paramCount = 0, address = ''): Req {
  const params: string[] = [];
  for (let i = 0; i < paramCount; i++) params.push(safeDecode(req.getParameter(i) ?? ''));
  return {
    method: req.getMethod(),
    path: req.getUrl(),
    query: new URLSearchParams(req.getQuery() ?? ''),
    headers: {
      authorization: req.getHeader('authorization'),
      contentType: req.getHeader('content-type'),
      contentLength: req.getHeader('content-length'),
      cookie: req.getHeader('cookie'),
      origin: req.getHeader('origin'),
    },
    params,
    address,
  };
}

/** A malformed escape (`%ZZ`) is kept as it is: it then names nothing and is answered 404. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  204: '204 No Content',
  303: '303 See Other',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  431: '431 Request Header Fields Too Large',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export const SECURITY_HEADERS: ReadonlyArray<[string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Cache-Control', 'no-store'],
  ['Referrer-Policy', 'no-referrer'],
  ['X-Frame-Options', 'DENY'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
];

/** JSON and text answers load nothing; the chat page sends its own policy instead. */
export const DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'";

/** Writes one whole answer (call inside `res.cork`): status, type, security headers, a CSP unless given, extra headers, body. */
export function writeAnswer(
  res: HttpResponse,
  status: number,
  body: string,
  contentType: string,
  extraHeaders: ReadonlyArray<[string, string]>,
  closeConnection: boolean,
): void {
  res.writeStatus(STATUS_TEXT[status] ?? `${status} Status`);
  res.writeHeader('Content-Type', contentType);
  for (const [k, v] of SECURITY_HEADERS) res.writeHeader(k, v);
  if (!extraHeaders.some(([k]) => k.toLowerCase() === 'content-security-policy')) res.writeHeader('Content-Security-Policy', DEFAULT_CSP);
  for (const [k, v] of extraHeaders) res.writeHeader(k, v);
  res.end(body, closeConnection);
}

/** The status, JSON body and Retry-After of an error answer. */
export function errorAnswer(err: unknown): { status: number; body: string; headers: Array<[string, string]> } {
  const e = toAppError(err);
  const retry = e.details.retryAfterMs;
  return {
    status: HTTP_STATUS[e.code],
    body: JSON.stringify(errorBody(e)),
    headers: retry !== undefined ? [['Retry-After', String(Math.ceil(retry / 1000))]] : [],
  };
}

/** Wraps a response: tracks abortion, corks writes, writes exactly once. */
export class Res {
  private done = false;
  aborted = false;

  constructor(private readonly res: HttpResponse) {
    res.onAborted(() => {
      this.aborted = true;
    });
  }

  send(status: number, body: string, contentType = 'application/json', extraHeaders: ReadonlyArray<[string, string]> = [], closeConnection = false): void {
    if (this.done || this.aborted) return;
    this.done = true;
    this.res.cork(() => writeAnswer(this.res, status, body, contentType, extraHeaders, closeConnection));
  }

  /**
   * Starts a streamed answer (SSE): status and headers now, the body through the returned uWS
   * response, which the caller writes corked and ends. `onAborted` runs when the client goes away.
   * Undefined when an answer was already sent or the client is gone.
   */
  startStream(contentType: string, extraHeaders: ReadonlyArray<[string, string]>, onAborted: () => void): HttpResponse | undefined {
    if (this.done || this.aborted) return undefined;
    this.done = true;
    this.res.onAborted(() => {
      this.aborted = true;
      onAborted();
    });
    this.res.cork(() => {
      this.res.writeStatus('200 OK');
      this.res.writeHeader('Content-Type', contentType);
      for (const [k, v] of SECURITY_HEADERS) this.res.writeHeader(k, v);
      this.res.writeHeader('Content-Security-Policy', DEFAULT_CSP);
      for (const [k, v] of extraHeaders) this.res.writeHeader(k, v);
    });
    return this.res;
  }

  json(status: number, body: unknown): void {
    this.send(status, JSON.stringify(body));
  }

  /** Answers an error: its code's status (or `status`), `{error: {code, message, retryAfterMs?}}`, Retry-After. */
  error(err: unknown, o: { close?: boolean; status?: number } = {}): void {
    const a = errorAnswer(err);
    this.send(o.status ?? a.status, a.body, 'application/json', a.headers, o.close ?? false);
  }

  /**
   * Reads the body up to `max` bytes; beyond it answers 413 and rejects. A body that has not
   * arrived whole within `timeoutMs` (a slow-POST attack: uWS has no timer once the headers are
   * in) is answered 408 and the connection closed. uWS hands the body only to a reader attached
   * before the handler's first await: call this first (src/transport/route.ts does).
   */
  body(max: number, timeoutMs = 30_000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      const timer = setTimeout(() => {
        if (failed) return;
        failed = true;
        const err = new AppError('bad_request', `request body not received within ${timeoutMs} ms`);
        this.error(err, { status: 408, close: true });
        reject(err);
      }, timeoutMs);
      this.res.onAborted(() => {
        clearTimeout(timer);
        this.aborted = true;
      });
      this.res.onData((chunk, isLast) => {
        if (failed) return;
        size += chunk.byteLength;
        if (size > max) {
          failed = true;
          clearTimeout(timer);
          const err = new AppError('payload_too_large', `request body over ${max} bytes`);
          this.error(err);
          reject(err);
          return;
        }
        // uWS reuses the chunk's memory after this callback: copy it.
        chunks.push(Buffer.from(new Uint8Array(chunk)));
        if (isLast) {
          clearTimeout(timer);
          resolve(Buffer.concat(chunks));
        }
      });
    });
  }
}

export function bearer(authorization: string): string | undefined {
  if (authorization.length > 10_000) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return m?.[1];
}

export function parseJsonBody(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new AppError('bad_request', 'body is not valid JSON', {}, { cause: err });
  }
}
