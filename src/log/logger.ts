// JSON logs. Secrets never reach a log line: the fields that can carry them are redacted by
// path, and the code never logs a token, ticket, password or Authorization header on purpose.
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

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'agentwire' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? process.stdout,
  );
}
