// The one place that reads the environment. Everything else receives a frozen `Config`.
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const commaList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0),
  );

/**
 * An allowed origin exactly as a browser sends it in `Origin`: scheme://host[:port], no path, no
 * default port. Anything else would never match, so every socket from that page would be refused.
 */
function originFix(s: string): string | undefined {
  let u: URL | undefined;
  try {
    u = new URL(s);
  } catch {
    u = undefined;
  }
  if (u && (u.protocol === 'http:' || u.protocol === 'https:')) return u.origin;
  // Another scheme with a host (an extension's page, say): taken as written.
  if (u && /^[a-z][a-z0-9+.-]*:\/\/[^/]+$/i.test(s)) return s;
  // No scheme at all ("localhost:8080", "chat.example.com"): what was probably meant.
  try {
    return new URL(`http://${s}`).origin;
  } catch {
    return undefined;
  }
}

const originList = commaList.superRefine((origins, ctx) => {
  for (const o of origins) {
    if (o === '*') continue;
    const fix = originFix(o);
    if (fix === o) continue;
    ctx.addIssue({
      code: 'custom',
      message: `"${o}" is not an origin as a browser sends it: write ${fix ? `"${fix}"` : 'scheme://host[:port]'} (scheme://host[:port], e.g. http://localhost:8080; * allows any)`,
    });
  }
});

export const envSchema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  /** Connections each process keeps to PostgreSQL (LISTEN takes one more). */
  DATABASE_POOL_SIZE: int(1, 1000).default(10),
  AGENTWIRE_DATA_DIR: z.string().min(1).default('./data'),
  /** Comma-separated browser origins allowed to open sockets; `*` allows any. Unset: this server's own origin. */
  ALLOWED_ORIGINS: originList.optional(),
  /** HS256 secret, at least 32 characters. Unset: generated once and kept in the data directory. */
  JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
  TOKEN_TTL_SECONDS: int(60, 7 * 24 * 3600).default(3600),
  ALLOW_REGISTRATION: bool.default(true),
  MAX_FRAME_BYTES: int(1024, 16 * 1024 * 1024).default(65536),
  REQUESTS_PER_MINUTE: int(1, 1_000_000).default(60),
  IDLE_TIMEOUT_SECONDS: int(8, 960).default(120),
  /** Bytes a socket may have queued before the server stops writing to it and catches up from the log on drain. */
  SOCKET_BUFFER_BYTES: int(16 * 1024, 64 * 1024 * 1024).default(1024 * 1024),
  HTTP_BODY_MAX_BYTES: int(1024, 64 * 1024 * 1024).default(2 * 1024 * 1024),
  WORKER_CONCURRENCY: int(1, 10_000).default(50),
  /** Unset: the LLM agent when a model is configured (LLM_BASE_URL), else `analyst`. */
  DEFAULT_AGENT: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  /** gateway: sockets and HTTP; worker: runs agents; both (default): one process does everything. */
  ROLE: z.enum(['both', 'gateway', 'worker']).default('both'),
  /** Names this process in leases and logs; unset: a random id per start. */
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)')
    .optional(),
  /** How long a worker's hold on a run lasts without renewal; a run whose lease lapses is taken over. */
  LEASE_MS: int(1_000, 600_000).default(5_000),
  RUN_TIMEOUT_MS: int(1_000, 24 * 3600 * 1000).default(10 * 60 * 1000),
  /**
   * Attempts a run gets that fail (throw outside the agent's own error handling, or lose their
   * lease); then it ends with `agent_error attempts_exhausted`. Handovers at shutdown do not count.
   */
  RUN_MAX_ATTEMPTS: int(1, 100).default(5),
  /** The wait before a failed attempt's retry: doubled per failed attempt (at most 64 times this), with jitter. */
  RUN_RETRY_DELAY_MS: int(10, 600_000).default(1_000),
  TOOL_TIMEOUT_MS: int(100, 3600 * 1000).default(30_000),
  /** A socket that reads nothing for this long while its buffer is full is closed (1013). */
  SLOW_SOCKET_CLOSE_MS: int(1_000, 3600 * 1000).default(30_000),
  // OpenTelemetry's standard variables. Tracing is on when an OTLP endpoint or an exporter is set;
  // the SDK itself also reads the ones not listed here (OTEL_EXPORTER_OTLP_HEADERS,
  // OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES, …).
  OTEL_SDK_DISABLED: bool.default(false),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'console', 'none']).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('agentwire'),
  /** Lets user text (the request's input) into span attributes. Off: ids, names and counts only. */
  TELEMETRY_RECORD_CONTENT: bool.default(false),
  // The LLM agent (docs/agents.md): any server speaking OpenAI's Chat Completions format. Setting
  // LLM_BASE_URL registers it; LLM_MODEL is then required.
  /** `openai`: the Chat Completions format (most servers); `anthropic`: Anthropic's Messages API. */
  LLM_PROVIDER: z.enum(['openai', 'anthropic']).default('openai'),
  LLM_BASE_URL: z.url().optional(),
  LLM_API_KEY: z.string().min(1).optional(),
  LLM_MODEL: z.string().min(1).optional(),
  LLM_AGENT_NAME: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, _ - (at most 32)')
    .refine((n) => n !== 'analyst', 'analyst is the built-in agent (the LLM agent uses it as a sub-agent)')
    .default('assistant'),
  LLM_SYSTEM_PROMPT: z.string().min(1).optional(),
  LLM_MAX_STEPS: int(1, 100).default(8),
  LLM_HISTORY_TOKENS: int(0, 1_000_000).default(4_000),
  LLM_MAX_OUTPUT_TOKENS: int(1, 1_000_000).optional(),
  LLM_MAX_RETRIES: int(0, 10).default(2),
  LLM_TIMEOUT_MS: int(1_000, 3600 * 1000).default(60_000),
  LLM_STREAM_IDLE_MS: int(100, 3600 * 1000).default(60_000),
  LLM_OUTPUT_FLUSH_MS: int(0, 10_000).default(50),
  LLM_OUTPUT_FLUSH_CHARS: int(1, 65_536).default(400),
  // The statechart visualizer at /debug (docs/visualizer.md). Off by default; when on, only a
  // holder of DEBUG_TOKEN or a user named in ADMIN_USERS may open it.
  DEBUG_ENABLED: bool.default(false),
  DEBUG_TOKEN: z.string().min(32, 'DEBUG_TOKEN must be at least 32 characters').optional(),
  ADMIN_USERS: commaList.optional(),
  /** How often the live feed sends the latest state of changed actors (coalesced in between). */
  DEBUG_FEED_INTERVAL_MS: int(50, 5_000).default(200),
  /** Actors listed one by one in each feed message; the rest are counted per state. */
  DEBUG_FEED_MAX_ACTORS: int(10, 5_000).default(100),
  // --- Hardening (docs/security.md): identity providers, limits, protected endpoints. ---
  /** External identity provider: tokens whose `iss` is this are verified against AUTH_JWKS_URL. */
  AUTH_ISSUER: z.string().min(1).refine((s) => s !== 'agentwire', 'AUTH_ISSUER must differ from agentwire (the server\'s own issuer)').optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_JWKS_URL: z.url().optional(),
  /** Asymmetric algorithms only: a symmetric one would let a JWKS public key be used as an HMAC secret. */
  AUTH_ALGORITHMS: commaList
    .pipe(z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).min(1))
    .default(['RS256', 'ES256']),
  /** How long fetched keys are trusted before a refetch; and the least time between two fetches (unknown `kid`s). */
  AUTH_JWKS_CACHE_MS: int(1_000, 24 * 3600 * 1000).default(600_000),
  AUTH_JWKS_COOLDOWN_MS: int(0, 3600 * 1000).default(30_000),
  AUTH_JWKS_TIMEOUT_MS: int(100, 60_000).default(5_000),
  /** Per user, every client frame; past it `rate_limited`, and a socket that keeps flooding is closed with 1008. */
  FRAMES_PER_SECOND: int(1, 100_000).default(50),
  /** Per user, HTTP requests with a bearer token. */
  HTTP_REQUESTS_PER_MINUTE: int(1, 1_000_000).default(600),
  /** Failed logins allowed per account and per client address in LOGIN_WINDOW_SECONDS. */
  LOGIN_ATTEMPTS_PER_ACCOUNT: int(1, 1_000_000).default(10),
  LOGIN_ATTEMPTS_PER_ADDRESS: int(1, 1_000_000).default(100),
  LOGIN_WINDOW_SECONDS: int(1, 24 * 3600).default(900),
  /** Registrations (each costs a scrypt hash) per client address per hour. */
  REGISTRATIONS_PER_ADDRESS: int(1, 1_000_000).default(30),
  /** Open sockets per user on one process. */
  MAX_SOCKETS_PER_USER: int(1, 100_000).default(16),
  /** An upgrade whose credential is not checked in this time, or a body not received in it, is refused. */
  UPGRADE_TIMEOUT_MS: int(100, 600_000).default(10_000),
  HTTP_BODY_TIMEOUT_MS: int(100, 600_000).default(30_000),
  /** Header a trusted reverse proxy sets to the client's address (e.g. x-real-ip); unset: the peer address. */
  CLIENT_ADDRESS_HEADER: z.string().regex(/^[A-Za-z0-9-]+$/).optional(),
  /** Bearer token /metrics requires when set; unset: /metrics is open (bind it to a private network). */
  METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
  /** How often open sockets are checked against revocations made on other processes. */
  REVOCATION_CHECK_MS: int(100, 3600 * 1000).default(10_000),
})
  .refine((e) => !e.LLM_BASE_URL || e.LLM_MODEL, { message: 'LLM_MODEL is required when LLM_BASE_URL is set', path: ['LLM_MODEL'] })
  // Without a key the Anthropic client would go looking for credentials of its own (profiles, files).
  .refine((e) => !e.LLM_BASE_URL || e.LLM_PROVIDER !== 'anthropic' || e.LLM_API_KEY, {
    message: 'LLM_API_KEY is required when LLM_PROVIDER is anthropic',
    path: ['LLM_API_KEY'],
  });

export type Env = z.input<typeof envSchema>;

export interface LlmConfig {
  readonly provider: 'openai' | 'anthropic';
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly model: string;
  readonly agentName: string;
  readonly systemPrompt: string | undefined;
  readonly maxSteps: number;
  readonly historyTokens: number;
  readonly maxOutputTokens: number | undefined;
  readonly maxRetries: number;
  readonly timeoutMs: number;
  readonly streamIdleMs: number;
  readonly flushMs: number;
  readonly flushChars: number;
}

function llmConfig(e: z.infer<typeof envSchema>): LlmConfig | undefined {
  if (!e.LLM_BASE_URL || !e.LLM_MODEL) return undefined;
  return Object.freeze({
    provider: e.LLM_PROVIDER,
    baseUrl: e.LLM_BASE_URL,
    apiKey: e.LLM_API_KEY,
    model: e.LLM_MODEL,
    agentName: e.LLM_AGENT_NAME,
    systemPrompt: e.LLM_SYSTEM_PROMPT,
    maxSteps: e.LLM_MAX_STEPS,
    historyTokens: e.LLM_HISTORY_TOKENS,
    maxOutputTokens: e.LLM_MAX_OUTPUT_TOKENS,
    maxRetries: e.LLM_MAX_RETRIES,
    timeoutMs: e.LLM_TIMEOUT_MS,
    streamIdleMs: e.LLM_STREAM_IDLE_MS,
    flushMs: e.LLM_OUTPUT_FLUSH_MS,
    flushChars: e.LLM_OUTPUT_FLUSH_CHARS,
  });
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  readonly databasePoolSize: number;
  readonly dataDir: string;
  readonly allowedOrigins: readonly string[] | undefined;
  readonly jwtSecret: string | undefined;
  readonly tokenTtlSeconds: number;
  readonly allowRegistration: boolean;
  readonly maxFrameBytes: number;
  readonly requestsPerMinute: number;
  readonly idleTimeoutSeconds: number;
  readonly socketBufferBytes: number;
  readonly httpBodyMaxBytes: number;
  readonly workerConcurrency: number;
  readonly defaultAgent: string;
  readonly logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  readonly shutdownGraceMs: number;
  readonly role: 'both' | 'gateway' | 'worker';
  readonly nodeId: string | undefined;
  readonly leaseMs: number;
  readonly runTimeoutMs: number;
  readonly runMaxAttempts: number;
  readonly runRetryDelayMs: number;
  readonly toolTimeoutMs: number;
  readonly slowSocketCloseMs: number;
  /** Undefined: no LLM agent (no model configured). */
  readonly llm: LlmConfig | undefined;
  readonly debug: {
    readonly enabled: boolean;
    readonly token: string | undefined;
    readonly adminUsers: readonly string[];
    readonly feedIntervalMs: number;
    readonly feedMaxActors: number;
  };
  readonly telemetry: {
    /** Undefined: tracing off. */
    readonly tracesExporter: 'otlp' | 'console' | undefined;
    /** The full URL traces are posted to; undefined lets the exporter use its default (localhost:4318). */
    readonly tracesEndpoint: string | undefined;
    readonly serviceName: string;
    readonly recordContent: boolean;
  };
  readonly security: {
    /** Undefined: only the server's own HS256 tokens are accepted. */
    readonly externalIdp: { readonly issuer: string; readonly audience: string; readonly jwksUrl: string; readonly algorithms: readonly string[]; readonly cacheMs: number; readonly cooldownMs: number; readonly timeoutMs: number } | undefined;
    readonly framesPerSecond: number;
    readonly httpRequestsPerMinute: number;
    readonly loginAttemptsPerAccount: number;
    readonly loginAttemptsPerAddress: number;
    readonly loginWindowMs: number;
    readonly registrationsPerAddress: number;
    readonly maxSocketsPerUser: number;
    readonly upgradeTimeoutMs: number;
    readonly httpBodyTimeoutMs: number;
    readonly clientAddressHeader: string | undefined;
    readonly metricsToken: string | undefined;
    readonly revocationCheckMs: number;
  };
}

function tracesExporter(e: z.infer<typeof envSchema>): 'otlp' | 'console' | undefined {
  if (e.OTEL_SDK_DISABLED || e.OTEL_TRACES_EXPORTER === 'none') return undefined;
  if (e.OTEL_TRACES_EXPORTER) return e.OTEL_TRACES_EXPORTER;
  return e.OTEL_EXPORTER_OTLP_ENDPOINT || e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'otlp' : undefined;
}

function tracesEndpoint(e: z.infer<typeof envSchema>): string | undefined {
  if (e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  // The base endpoint gets the signal's path appended, as the OTLP specification says.
  if (e.OTEL_EXPORTER_OTLP_ENDPOINT) return `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/**
 * Settings that start but do not do what whoever set them wanted; each line says the fix. The
 * caller logs them (a warning, not a refusal: the rest of the server is fine).
 */
export function configWarnings(c: Config): string[] {
  const out: string[] = [];
  if (c.debug.enabled && !c.debug.token && c.debug.adminUsers.length === 0) {
    out.push('DEBUG_ENABLED=true, but neither DEBUG_TOKEN nor ADMIN_USERS is set, so nobody can open /debug: set ADMIN_USERS=<your username> (then sign in with its password) or DEBUG_TOKEN=<32+ random characters>');
  }
  if (c.debug.enabled && c.role === 'worker') {
    out.push('DEBUG_ENABLED=true on ROLE=worker, which serves no pages: turn it on on a gateway (ROLE=gateway or both)');
  }
  return out;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses settings (normally `process.env`); throws a `ConfigError` that names every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as they do in most shells and compose files.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const idp = [e.AUTH_ISSUER, e.AUTH_AUDIENCE, e.AUTH_JWKS_URL].filter((v) => v !== undefined).length;
  if (idp !== 0 && idp !== 3) throw new ConfigError('invalid configuration:\n  AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL are set together or not at all');
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    dataDir: e.AGENTWIRE_DATA_DIR,
    allowedOrigins: e.ALLOWED_ORIGINS ? Object.freeze([...e.ALLOWED_ORIGINS]) : undefined,
    jwtSecret: e.JWT_SECRET,
    tokenTtlSeconds: e.TOKEN_TTL_SECONDS,
    allowRegistration: e.ALLOW_REGISTRATION,
    maxFrameBytes: e.MAX_FRAME_BYTES,
    requestsPerMinute: e.REQUESTS_PER_MINUTE,
    idleTimeoutSeconds: e.IDLE_TIMEOUT_SECONDS,
    socketBufferBytes: e.SOCKET_BUFFER_BYTES,
    httpBodyMaxBytes: e.HTTP_BODY_MAX_BYTES,
    workerConcurrency: e.WORKER_CONCURRENCY,
    defaultAgent: e.DEFAULT_AGENT ?? (e.LLM_BASE_URL ? e.LLM_AGENT_NAME : 'analyst'),
    llm: llmConfig(e),
    logLevel: e.LOG_LEVEL,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    role: e.ROLE,
    nodeId: e.NODE_ID,
    leaseMs: e.LEASE_MS,
    runTimeoutMs: e.RUN_TIMEOUT_MS,
    runMaxAttempts: e.RUN_MAX_ATTEMPTS,
    runRetryDelayMs: e.RUN_RETRY_DELAY_MS,
    toolTimeoutMs: e.TOOL_TIMEOUT_MS,
    slowSocketCloseMs: e.SLOW_SOCKET_CLOSE_MS,
    debug: Object.freeze({
      enabled: e.DEBUG_ENABLED,
      token: e.DEBUG_TOKEN,
      adminUsers: Object.freeze([...(e.ADMIN_USERS ?? [])]),
      feedIntervalMs: e.DEBUG_FEED_INTERVAL_MS,
      feedMaxActors: e.DEBUG_FEED_MAX_ACTORS,
    }),
    telemetry: Object.freeze({
      tracesExporter: tracesExporter(e),
      tracesEndpoint: tracesEndpoint(e),
      serviceName: e.OTEL_SERVICE_NAME,
      recordContent: e.TELEMETRY_RECORD_CONTENT,
    }),
    security: Object.freeze({
      externalIdp:
        e.AUTH_ISSUER && e.AUTH_AUDIENCE && e.AUTH_JWKS_URL
          ? Object.freeze({
              issuer: e.AUTH_ISSUER,
              audience: e.AUTH_AUDIENCE,
              jwksUrl: e.AUTH_JWKS_URL,
              algorithms: Object.freeze([...e.AUTH_ALGORITHMS]),
              cacheMs: e.AUTH_JWKS_CACHE_MS,
              cooldownMs: e.AUTH_JWKS_COOLDOWN_MS,
              timeoutMs: e.AUTH_JWKS_TIMEOUT_MS,
            })
          : undefined,
      framesPerSecond: e.FRAMES_PER_SECOND,
      httpRequestsPerMinute: e.HTTP_REQUESTS_PER_MINUTE,
      loginAttemptsPerAccount: e.LOGIN_ATTEMPTS_PER_ACCOUNT,
      loginAttemptsPerAddress: e.LOGIN_ATTEMPTS_PER_ADDRESS,
      loginWindowMs: e.LOGIN_WINDOW_SECONDS * 1000,
      registrationsPerAddress: e.REGISTRATIONS_PER_ADDRESS,
      maxSocketsPerUser: e.MAX_SOCKETS_PER_USER,
      upgradeTimeoutMs: e.UPGRADE_TIMEOUT_MS,
      httpBodyTimeoutMs: e.HTTP_BODY_TIMEOUT_MS,
      clientAddressHeader: e.CLIENT_ADDRESS_HEADER?.toLowerCase(),
      metricsToken: e.METRICS_TOKEN,
      revocationCheckMs: e.REVOCATION_CHECK_MS,
    }),
  });
}
