// The environment as one way of writing `createServer`'s options: each variable names one option,
// converted from text and nothing more. Defaults and checks live in the options schema only
// (./options.ts), and an error about an option names the variable it came from.
import { z } from 'zod';
import { issuesOf, OptionsError, settingsSchema, type OptionIssue, type Settings } from './options.js';

type Kind = 'string' | 'int' | 'bool' | 'list';

/** Every variable and the option it sets. */
export const ENV_OPTIONS: ReadonlyArray<readonly [variable: string, path: string, kind: Kind]> = [
  ['PORT', 'port', 'int'],
  ['HOST', 'host', 'string'],
  ['DATABASE_URL', 'databaseUrl', 'string'],
  ['DATABASE_POOL_SIZE', 'databasePoolSize', 'int'],
  ['AGENTWIRE_DATA_DIR', 'dataDir', 'string'],
  ['ALLOWED_ORIGINS', 'allowedOrigins', 'list'],
  ['DEFAULT_AGENT', 'defaultAgent', 'string'],
  ['ROLE', 'role', 'string'],
  ['NODE_ID', 'nodeId', 'string'],
  ['LOG_LEVEL', 'logLevel', 'string'],
  ['SHUTDOWN_GRACE_MS', 'shutdownGraceMs', 'int'],
  ['JWT_SECRET', 'auth.jwtSecret', 'string'],
  ['TOKEN_TTL_SECONDS', 'auth.tokenTtlSeconds', 'int'],
  ['ALLOW_REGISTRATION', 'auth.allowRegistration', 'bool'],
  ['AUTH_ISSUER', 'auth.external.issuer', 'string'],
  ['AUTH_AUDIENCE', 'auth.external.audience', 'string'],
  ['AUTH_JWKS_URL', 'auth.external.jwksUrl', 'string'],
  ['AUTH_ALGORITHMS', 'auth.external.algorithms', 'list'],
  ['AUTH_JWKS_CACHE_MS', 'auth.external.cacheMs', 'int'],
  ['AUTH_JWKS_COOLDOWN_MS', 'auth.external.cooldownMs', 'int'],
  ['AUTH_JWKS_TIMEOUT_MS', 'auth.external.timeoutMs', 'int'],
  ['MAX_FRAME_BYTES', 'limits.maxFrameBytes', 'int'],
  ['REQUESTS_PER_MINUTE', 'limits.requestsPerMinute', 'int'],
  ['FRAMES_PER_SECOND', 'limits.framesPerSecond', 'int'],
  ['HTTP_REQUESTS_PER_MINUTE', 'limits.httpRequestsPerMinute', 'int'],
  ['IDLE_TIMEOUT_SECONDS', 'limits.idleTimeoutSeconds', 'int'],
  ['SOCKET_BUFFER_BYTES', 'limits.socketBufferBytes', 'int'],
  ['SLOW_SOCKET_CLOSE_MS', 'limits.slowSocketCloseMs', 'int'],
  ['HTTP_BODY_MAX_BYTES', 'limits.httpBodyMaxBytes', 'int'],
  ['HTTP_BODY_TIMEOUT_MS', 'limits.httpBodyTimeoutMs', 'int'],
  ['UPGRADE_TIMEOUT_MS', 'limits.upgradeTimeoutMs', 'int'],
  ['MAX_SOCKETS_PER_USER', 'limits.maxSocketsPerUser', 'int'],
  ['LOGIN_ATTEMPTS_PER_ACCOUNT', 'limits.loginAttemptsPerAccount', 'int'],
  ['LOGIN_ATTEMPTS_PER_ADDRESS', 'limits.loginAttemptsPerAddress', 'int'],
  ['LOGIN_WINDOW_SECONDS', 'limits.loginWindowSeconds', 'int'],
  ['REGISTRATIONS_PER_ADDRESS', 'limits.registrationsPerAddress', 'int'],
  ['WORKER_CONCURRENCY', 'runs.concurrency', 'int'],
  ['LEASE_MS', 'runs.leaseMs', 'int'],
  ['RUN_TIMEOUT_MS', 'runs.timeoutMs', 'int'],
  ['RUN_MAX_ATTEMPTS', 'runs.maxAttempts', 'int'],
  ['RUN_RETRY_DELAY_MS', 'runs.retryDelayMs', 'int'],
  ['TOOL_TIMEOUT_MS', 'runs.toolTimeoutMs', 'int'],
  ['INPUT_TIMEOUT_MS', 'runs.inputTimeoutMs', 'int'],
  ['TOOLS_REQUIRING_APPROVAL', 'runs.toolsRequiringApproval', 'list'],
  ['OTEL_SERVICE_NAME', 'telemetry.serviceName', 'string'],
  ['TELEMETRY_RECORD_CONTENT', 'telemetry.recordContent', 'bool'],
  ['DEBUG_ENABLED', 'debug.enabled', 'bool'],
  ['DEBUG_TOKEN', 'debug.token', 'string'],
  ['ADMIN_USERS', 'debug.adminUsers', 'list'],
  ['DEBUG_FEED_INTERVAL_MS', 'debug.feedIntervalMs', 'int'],
  ['DEBUG_FEED_MAX_ACTORS', 'debug.feedMaxActors', 'int'],
  ['LLM_PROVIDER', 'llm.provider', 'string'],
  ['LLM_BASE_URL', 'llm.baseUrl', 'string'],
  ['LLM_API_KEY', 'llm.apiKey', 'string'],
  ['LLM_MODEL', 'llm.model', 'string'],
  ['LLM_AGENT_NAME', 'llm.name', 'string'],
  ['LLM_SYSTEM_PROMPT', 'llm.systemPrompt', 'string'],
  ['LLM_MAX_STEPS', 'llm.maxSteps', 'int'],
  ['LLM_HISTORY_TOKENS', 'llm.historyTokens', 'int'],
  ['LLM_MAX_OUTPUT_TOKENS', 'llm.maxOutputTokens', 'int'],
  ['LLM_MAX_RETRIES', 'llm.maxRetries', 'int'],
  ['LLM_TIMEOUT_MS', 'llm.timeoutMs', 'int'],
  ['LLM_STREAM_IDLE_MS', 'llm.streamIdleMs', 'int'],
  ['LLM_OUTPUT_FLUSH_MS', 'llm.flushMs', 'int'],
  ['LLM_OUTPUT_FLUSH_CHARS', 'llm.flushChars', 'int'],
  ['CLIENT_ADDRESS_HEADER', 'clientAddressHeader', 'string'],
  ['METRICS_TOKEN', 'metricsToken', 'string'],
  ['REVOCATION_CHECK_MS', 'revocationCheckMs', 'int'],
];

// OpenTelemetry's own variables say whether and where to export; they set `telemetry.exporter`
// and `telemetry.endpoint` together (the OTLP specification's rules, not options of ours).
const otelSchema = z.object({
  OTEL_SDK_DISABLED: z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional(),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'console', 'none']).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
});

/** Variable for an option path (or the nearest enclosing one that has a variable). */
export function variableFor(path: string): string | undefined {
  for (let p = path; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const hit = ENV_OPTIONS.find(([, option]) => option === p);
    if (hit) return hit[0];
  }
  if (path.startsWith('telemetry.exporter')) return 'OTEL_TRACES_EXPORTER';
  if (path.startsWith('telemetry.endpoint')) return 'OTEL_EXPORTER_OTLP_ENDPOINT';
  return undefined;
}

/** The issue as an operator of `npm start` reads it: the variable, not the option. */
export const envIssue = (i: OptionIssue): OptionIssue => ({ path: variableFor(i.path) ?? i.path, message: i.message });

/** Text → the option's type. What does not convert is passed as text, and the schema names it. */
function convert(kind: Kind, v: string): unknown {
  switch (kind) {
    case 'int':
      return v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
    case 'bool':
      if (['true', '1', 'yes'].includes(v)) return true;
      if (['false', '0', 'no'].includes(v)) return false;
      return v;
    case 'list':
      return v
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0);
    default:
      return v;
  }
}

function set(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = target;
  for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[keys.at(-1)!] = value;
}

/**
 * The environment as options, each variable converted from text (not yet checked against the
 * schema: `createServer` does that), and the problems only the environment can have (variables
 * read together). Empty values mean unset, as they do in most shells and compose files.
 */
export function readEnv(env: Record<string, string | undefined> = process.env): { options: Settings; issues: OptionIssue[] } {
  const given = (name: string) => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const issues: OptionIssue[] = [];
  const options: Record<string, unknown> = {};
  const idp = ['AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_JWKS_URL'].filter((n) => given(n) !== undefined).length;
  if (idp !== 0 && idp !== 3) issues.push({ path: 'AUTH_ISSUER', message: 'AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL are set together or not at all' });
  for (const [name, path, kind] of ENV_OPTIONS) {
    const v = given(name);
    if (v === undefined) continue;
    // The provider's settings mean something only with one (AUTH_ISSUER …); the LLM agent's only with LLM_BASE_URL.
    if (path.startsWith('auth.external.') && idp !== 3) continue;
    if (path.startsWith('llm.') && given('LLM_BASE_URL') === undefined) continue;
    set(options, path, convert(kind, v));
  }
  if (given('LLM_BASE_URL') !== undefined && given('LLM_MODEL') === undefined) {
    issues.push({ path: 'LLM_MODEL', message: 'LLM_MODEL is required when LLM_BASE_URL is set' });
  }

  const otel = otelSchema.safeParse(Object.fromEntries(Object.keys(otelSchema.shape).map((k) => [k, given(k)])));
  if (!otel.success) {
    for (const i of otel.error.issues) issues.push({ path: i.path.join('.'), message: i.message });
  } else {
    const o = otel.data;
    const disabled = o.OTEL_SDK_DISABLED !== undefined && ['true', '1', 'yes'].includes(o.OTEL_SDK_DISABLED);
    // The base endpoint gets the signal's path appended, as the OTLP specification says.
    const endpoint = o.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (o.OTEL_EXPORTER_OTLP_ENDPOINT ? `${o.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` : undefined);
    const exporter = disabled || o.OTEL_TRACES_EXPORTER === 'none' ? undefined : (o.OTEL_TRACES_EXPORTER ?? (endpoint ? 'otlp' : undefined));
    if (exporter) set(options, 'telemetry.exporter', exporter);
    if (exporter && endpoint) set(options, 'telemetry.endpoint', endpoint);
  }
  return { options: options as Settings, issues };
}

/**
 * The settings the environment gives (README, "Configuration"), for `createServer`:
 * `createServer({ ...optionsFromEnv(), agents, tools })`. Checked against the options schema
 * (throws `OptionsError` naming each bad variable); defaults are left to `createServer`.
 */
export function optionsFromEnv(env: Record<string, string | undefined> = process.env): Settings {
  const { options, issues } = readEnv(env);
  const parsed = settingsSchema.safeParse(options);
  if (!parsed.success) issues.push(...issuesOf(parsed.error).map(envIssue));
  if (issues.length > 0) throw new OptionsError(issues);
  return options;
}
