// JSON logs. Secrets never reach a log line: the fields that can carry them are redacted by
// path, and the code never logs a token, ticket, password or Authorization header on purpose.
// An unexpected error is logged as the Error itself under `err`: pino's standard serializer
// writes its type, message and stack, its causes' messages and stacks after its own, and its
// other fields (a database error's `code`, …). An error raised while checking a credential is
// passed through `withoutSecrets` first, since its text may quote what it was given.
import { context, trace } from '@opentelemetry/api';
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export const REDACTED_PATHS = [
  'token',
  'ticket',
  'password',
  'authorization',
  'jwtSecret',
  '*.token',
  '*.ticket',
  '*.password',
  '*.authorization',
  '*.jwtSecret',
  'req.headers.authorization',
  'req.headers["sec-websocket-protocol"]',
];

/**
 * `trace_id` and `span_id` of the active span, on every line logged inside one (a request, a run
 * attempt, a tool call). Without tracing there is no active span and nothing is added.
 */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const c = span.spanContext();
  return trace.isSpanContextValid(c) ? { trace_id: c.traceId, span_id: c.spanId } : {};
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'agentwire' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
      mixin: traceFields,
    },
    destination ?? process.stdout,
  );
}

const REDACTED = '[redacted]';

/**
 * A copy of `err` (its causes too) in which every occurrence of the given secrets, in its
 * message, stack and string fields, reads `[redacted]`; the type is kept. For errors raised while
 * checking a credential, which may quote it. Anything that is not an Error is returned as it is,
 * or scrubbed when a string.
 */
export function withoutSecrets(err: unknown, secrets: readonly string[]): unknown {
  // Short strings would blank out ordinary words; credentials are long.
  const live = secrets.filter((s) => s.length >= 8);
  if (live.length === 0) return err;
  const scrub = (text: string) => live.reduce((t, s) => t.split(s).join(REDACTED), text);
  const copy = (e: unknown, depth: number): unknown => {
    if (typeof e === 'string') return scrub(e);
    if (!(e instanceof Error)) return e;
    const out = Object.create(Object.getPrototypeOf(e) as object) as Error;
    for (const [k, v] of Object.entries(e)) (out as unknown as Record<string, unknown>)[k] = typeof v === 'string' ? scrub(v) : v;
    const hidden = (value: unknown) => ({ value, writable: true, configurable: true, enumerable: false });
    Object.defineProperty(out, 'message', hidden(scrub(e.message)));
    Object.defineProperty(out, 'stack', hidden(e.stack === undefined ? undefined : scrub(e.stack)));
    if (e.name !== Object.getPrototypeOf(e)?.name) Object.defineProperty(out, 'name', hidden(e.name));
    if (e.cause !== undefined) Object.defineProperty(out, 'cause', hidden(depth < 8 ? copy(e.cause, depth + 1) : REDACTED));
    return out;
  };
  return copy(err, 0);
}
