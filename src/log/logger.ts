// JSON logs. Secrets never reach a log line: the fields that can carry them are redacted by
// path, and the code never logs a token, ticket, password or Authorization header on purpose.
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
      mixin: traceFields,
    },
    destination ?? process.stdout,
  );
}
