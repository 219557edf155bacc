// Small helpers over uWS's HTTP objects. uWS's request is valid only during the handler's first
// synchronous part, so everything needed is copied out first; responses written after an await
// are corked and skipped when the client went away.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { AppError, HTTP_STATUS, toAppError } from '../protocol/errors.js';

export interface Req {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: { authorization: string; contentType: string; contentLength: string };
  params: string[];
}

export function readReq(req: HttpRequest, paramCount = 0): Req {
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
    },
    params,
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
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export const SECURITY_HEADERS: ReadonlyArray<[string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Cache-Control', 'no-store'],
  ['Referrer-Policy', 'no-referrer'],
  ['X-Frame-Options', 'DENY'],
];

/** Wraps a response: tracks abortion, corks writes, writes exactly once. */
export class Res {
  private done = false;
  aborted = false;

  constructor(private readonly res: HttpResponse) {
    res.onAborted(() => {
      this.aborted = true;
    });
  }

  send(status: number, body: string, contentType = 'application/json', extraHeaders: ReadonlyArray<[string, string]> = []): void {
    if (this.done || this.aborted) return;
    this.done = true;
    this.res.cork(() => {
      this.res.writeStatus(STATUS_TEXT[status] ?? `${status} Status`);
      this.res.writeHeader('Content-Type', contentType);
      for (const [k, v] of SECURITY_HEADERS) this.res.writeHeader(k, v);
      for (const [k, v] of extraHeaders) this.res.writeHeader(k, v);
      this.res.end(body);
    });
  }

  json(status: number, body: unknown): void {
    this.send(status, JSON.stringify(body));
  }

  error(err: unknown): void {
    const e = toAppError(err);
    const status = HTTP_STATUS[e.code];
    this.json(status, { error: { code: e.code, message: e.message, ...(e.details.retryAfterMs ? { retryAfterMs: e.details.retryAfterMs } : {}) } });
  }

  /** Reads the body up to `max` bytes; beyond it answers 413 and rejects. */
  body(max: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      this.res.onData((chunk, isLast) => {
        if (failed) return;
        size += chunk.byteLength;
        if (size > max) {
          failed = true;
          const err = new AppError('payload_too_large', `request body over ${max} bytes`);
          this.error(err);
          reject(err);
          return;
        }
        // uWS reuses the chunk's memory after this callback: copy it.
        chunks.push(Buffer.from(new Uint8Array(chunk)));
        if (isLast) resolve(Buffer.concat(chunks));
      });
    });
  }
}

export function bearer(authorization: string): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return m?.[1];
}

export function parseJsonBody(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new AppError('bad_request', 'body is not valid JSON');
  }
}
