// What a model provider's error may reach. Its text is the provider's, and providers quote what
// they were sent ("Incorrect API key provided: Bearer sk-…"), so it never goes into an event, an
// error message, or a log line above debug. Messages are built from the HTTP status and fixed
// phrases; the text goes to one debug line, with secrets redacted; the error chain keeps a
// summary (class, status, type and code when they look like identifiers) and the stack frames.
import type { Logger } from '../../log/logger.js';

const CENSOR = '[redacted]';

// A credential runs to the next space, quote or bracket; a full stop ending a sentence is not part of it.
// Already censored is left alone.
const VALUE = String.raw`(?!\[redacted\])[^\s"',;)}\]]*[^\s"',;)}\].]`;

const SECRET_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // Authorization values: `Bearer <token>`, `Basic <credentials>`.
  [new RegExp(String.raw`\b(Bearer|Basic)\s+${VALUE}`, 'gi'), `$1 ${CENSOR}`],
  // Key-shaped values: OpenAI `sk-…`, `sk-proj-…`, Anthropic `sk-ant-…`, OpenRouter `sk-or-…`.
  [/\bsk-[A-Za-z0-9_-]{2,}/g, CENSOR],
  // A named key with its value: `x-api-key: …`, `"api_key": "…"`, `apikey=…`.
  [new RegExp(String.raw`\b((?:x-)?api[_-]?key["']?\s*[:=]\s*["']?)${VALUE}`, 'gi'), `$1${CENSOR}`],
];

/** `text` with bearer tokens, `sk-…` keys, API key values and the given secrets replaced by `[redacted]`. */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  let out = text;
  // The configured key first, whatever its shape (a local server's key need not look like one).
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join(CENSOR);
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** The fields the provider clients put on their errors (`openai`'s and `@anthropic-ai/sdk`'s `APIError`). */
interface ProviderFields {
  status?: unknown;
  type?: unknown;
  code?: unknown;
  /** The error object of the body: OpenAI's `{message, type, code}`, or Anthropic's whole `{type: "error", error: {type, message}}`. */
  error?: unknown;
}

const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

/** An identifier-like value (`invalid_api_key`, `authentication_error`, `401`), never free text. */
const identifier = (v: unknown): string | undefined =>
  (typeof v === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(v)) || (typeof v === 'number' && Number.isInteger(v)) ? String(v) : undefined;

/** The type and code of a provider error, wherever its client put them (in-stream errors nest them). */
function typeAndCode(err: unknown): { status?: number; type?: string; code?: string } {
  const e = record(err) as ProviderFields;
  const body = record(e.error);
  const nested = record(body.error);
  const type = identifier(e.type) ?? identifier(nested.type) ?? identifier(body.type === 'error' ? undefined : body.type);
  const code = identifier(e.code) ?? identifier(body.code) ?? identifier(nested.code) ?? identifier(body.status);
  return {
    ...(typeof e.status === 'number' ? { status: e.status } : {}),
    ...(type !== undefined ? { type } : {}),
    ...(code !== undefined ? { code } : {}),
  };
}

const AUTH_IDENTIFIER = /auth|permission|api_?key|unauthori[sz]ed|forbidden|^40[13]$/i;
/** Said in a message when no identifier says it: "Incorrect API key provided", "Authentication failed", "Permission denied". */
const AUTH_PHRASE = /\b(authenticat\w*|permission|unauthori[sz]ed|forbidden|api[ -]?key)\b/i;
/** Identifiers that say nothing either way: the message decides. */
const VAGUE_IDENTIFIER = /^(invalid_request_error|error|api_error|bad_request|400)$/i;

/**
 * Whether the provider refused the credentials: HTTP 401 or 403, or an error inside a stream whose
 * type or code says authentication or permission (or, when they say nothing, its message does).
 * Such a call fails the same way every time: it is neither retried nor retryable.
 */
export function refusesCredentials(err: unknown): boolean {
  const { status, type, code } = typeAndCode(err);
  if (status === 401 || status === 403) return true;
  const ids = [type, code].filter((v): v is string => v !== undefined);
  if (ids.some((v) => AUTH_IDENTIFIER.test(v))) return true;
  if (ids.some((v) => !VAGUE_IDENTIFIER.test(v))) return false;
  const body = record(record(err).error);
  return [body.message, record(body.error).message].some((m) => typeof m === 'string' && AUTH_PHRASE.test(m));
}

/**
 * What the error chain keeps of a provider's error: its class, status, type and code, and its stack
 * frames, without its message (pino's error serializer logs a cause's message and stack).
 */
export class ProviderError extends Error {
  override name = 'ProviderError';

  constructor(err: unknown) {
    const { status, type, code } = typeAndCode(err);
    const errno = identifier(record(record(err).cause).code);
    const parts = [
      err instanceof Error ? err.constructor.name : typeof err,
      ...(status !== undefined ? [`HTTP ${status}`] : []),
      ...(type !== undefined ? [`type ${type}`] : []),
      ...(code !== undefined ? [`code ${code}`] : []),
      ...(errno !== undefined ? [`cause ${errno}`] : []),
    ];
    super(parts.join(', '));
    const frames = err instanceof Error ? (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)) : [];
    if (frames.length > 0) this.stack = `${this.name}: ${this.message}\n${frames.join('\n')}`;
  }
}

/** The provider's own words for a failure, for the debug log only: redacted, and cut at 2,000 characters. */
export function logProviderError(log: Logger | undefined, err: unknown, secrets: ReadonlyArray<string | undefined>, what: string): void {
  if (!log?.isLevelEnabled('debug')) return;
  const text = err instanceof Error ? err.message : String(err);
  log.debug({ provider: { ...typeAndCode(err), text: redactSecrets(text, secrets).slice(0, 2000) } }, what);
}
