// Stable error codes (PROTOCOL section 5), one error class, one mapping to the wire, one
// normaliser for anything thrown. What reaches a client is the code and a fixed message; what was
// thrown underneath stays on the error as its `cause`, for the log (pino's error serializer prints
// the cause's message and stack after the error's own).
import type { ErrorFrame } from './events.js';
import type { ErrorCode } from './wire.js';

export { ERROR_CODES, type ErrorCode } from './wire.js';

/** HTTP status for each code. `unauthorized`, `forbidden`, `conflict` and `payload_too_large` are HTTP-only. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  thread_busy: 409,
  rate_limited: 429,
  payload_too_large: 413,
  unavailable: 503,
  internal: 500,
};

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { retryAfterMs?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const badRequest = (message: string) => new AppError('bad_request', message);
export const unavailable = (message = 'the server cannot take this request now; retry later', cause?: unknown) =>
  new AppError('unavailable', message, {}, { cause });

/** Anything thrown → an AppError whose message reveals nothing internal; what was thrown is its cause. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isConnectionError(err)) return unavailable(undefined, err);
  return new AppError('internal', 'internal error', {}, { cause: err });
}

/** The body of every HTTP error answer and upgrade refusal: `{error: {code, message, retryAfterMs?}}`. */
export function errorBody(err: unknown): { error: { code: ErrorCode; message: string; retryAfterMs?: number } } {
  const e = toAppError(err);
  const retry = e.details.retryAfterMs;
  return { error: { code: e.code, message: e.message, ...(retry !== undefined ? { retryAfterMs: retry } : {}) } };
}

/** The socket's `error` frame (PROTOCOL section 5) for anything thrown or refused; the only place one is built. */
export function errorFrame(err: unknown, ids: { requestId?: string | undefined; runId?: string | undefined } = {}): ErrorFrame {
  const e = toAppError(err);
  const retry = e.details.retryAfterMs;
  return {
    type: 'error',
    code: e.code,
    message: e.message,
    ...(ids.requestId !== undefined ? { requestId: ids.requestId } : {}),
    ...(ids.runId !== undefined ? { runId: ids.runId } : {}),
    ...(retry !== undefined ? { retryAfterMs: retry } : {}),
  };
}

/** Connection-level database failures: the request may be retried later. */
export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08006', '08001', '08003', '08000'].includes(code))
      return true;
  }
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message);
}
