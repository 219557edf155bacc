// Settings → the frozen `Config` the runtime reads. The settings come from `createServer`'s
// options or, for `npm start`, from the environment (./env.ts); both go through the one schema of
// ./options.ts, so there is one set of defaults.
import { envIssue, readEnv } from './env.js';
import { issuesOf, OptionsError, settingsSchema, type ResolvedSettings, type Settings } from './options.js';

export { OptionsError, type OptionIssue, type Settings, type ResolvedSettings } from './options.js';
export { optionsFromEnv, readEnv, variableFor, ENV_OPTIONS } from './env.js';

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
  /** Undefined: every registered tool. */
  readonly tools: readonly string[] | undefined;
  /** Sub-agents; undefined: every other registered agent. */
  readonly agents: readonly string[] | undefined;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  readonly databasePoolSize: number;
  /** A directory, or `memory://` (PGlite in memory: no lock, no secret file). */
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
  /** Undefined: the LLM agent if one is configured, else the first registered agent. */
  readonly defaultAgent: string | undefined;
  readonly logLevel: ResolvedSettings['logLevel'];
  readonly shutdownGraceMs: number;
  readonly role: 'both' | 'gateway' | 'worker';
  readonly nodeId: string | undefined;
  readonly leaseMs: number;
  readonly runTimeoutMs: number;
  readonly runMaxAttempts: number;
  readonly runRetryDelayMs: number;
  readonly toolTimeoutMs: number;
  /** Unset: a waiting run waits for its answer without a limit. */
  readonly inputTimeoutMs: number | undefined;
  readonly toolsRequiringApproval: readonly string[];
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

/** An in-memory embedded database: nothing on disk, so no directory lock and no secret file. */
export const isMemoryDir = (dataDir: string) => dataDir.startsWith('memory://');

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

/** A configuration `npm start` cannot start with; the message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses settings with the one schema; throws `OptionsError` naming each bad option. */
export function parseSettings(input: Settings): ResolvedSettings {
  const parsed = settingsSchema.safeParse(input);
  if (!parsed.success) throw new OptionsError(issuesOf(parsed.error));
  return parsed.data;
}

/** Parsed settings → the runtime's frozen view of them. */
export function toConfig(s: ResolvedSettings): Config {
  const l = s.llm;
  const x = s.auth.external;
  return Object.freeze({
    port: s.port,
    host: s.host,
    databaseUrl: s.databaseUrl,
    databasePoolSize: s.databasePoolSize,
    dataDir: s.dataDir,
    allowedOrigins: s.allowedOrigins ? Object.freeze([...s.allowedOrigins]) : undefined,
    jwtSecret: s.auth.jwtSecret,
    tokenTtlSeconds: s.auth.tokenTtlSeconds,
    allowRegistration: s.auth.allowRegistration,
    maxFrameBytes: s.limits.maxFrameBytes,
    requestsPerMinute: s.limits.requestsPerMinute,
    idleTimeoutSeconds: s.limits.idleTimeoutSeconds,
    socketBufferBytes: s.limits.socketBufferBytes,
    httpBodyMaxBytes: s.limits.httpBodyMaxBytes,
    workerConcurrency: s.runs.concurrency,
    defaultAgent: s.defaultAgent,
    llm: l
      ? Object.freeze({
          provider: l.provider,
          baseUrl: l.baseUrl,
          apiKey: l.apiKey,
          model: l.model,
          agentName: l.name,
          systemPrompt: l.systemPrompt,
          maxSteps: l.maxSteps,
          historyTokens: l.historyTokens,
          maxOutputTokens: l.maxOutputTokens,
          maxRetries: l.maxRetries,
          timeoutMs: l.timeoutMs,
          streamIdleMs: l.streamIdleMs,
          flushMs: l.flushMs,
          flushChars: l.flushChars,
          tools: l.tools ? Object.freeze([...l.tools]) : undefined,
          agents: l.agents ? Object.freeze([...l.agents]) : undefined,
        })
      : undefined,
    logLevel: s.logLevel,
    shutdownGraceMs: s.shutdownGraceMs,
    role: s.role,
    nodeId: s.nodeId,
    leaseMs: s.runs.leaseMs,
    runTimeoutMs: s.runs.timeoutMs,
    runMaxAttempts: s.runs.maxAttempts,
    runRetryDelayMs: s.runs.retryDelayMs,
    toolTimeoutMs: s.runs.toolTimeoutMs,
    inputTimeoutMs: s.runs.inputTimeoutMs,
    toolsRequiringApproval: Object.freeze([...s.runs.toolsRequiringApproval]),
    slowSocketCloseMs: s.limits.slowSocketCloseMs,
    debug: Object.freeze({
      enabled: s.debug.enabled,
      token: s.debug.token,
      adminUsers: Object.freeze([...s.debug.adminUsers]),
      feedIntervalMs: s.debug.feedIntervalMs,
      feedMaxActors: s.debug.feedMaxActors,
    }),
    telemetry: Object.freeze({
      tracesExporter: s.telemetry.exporter ?? (s.telemetry.endpoint ? 'otlp' : undefined),
      tracesEndpoint: s.telemetry.endpoint,
      serviceName: s.telemetry.serviceName,
      recordContent: s.telemetry.recordContent,
    }),
    security: Object.freeze({
      externalIdp: x
        ? Object.freeze({ issuer: x.issuer, audience: x.audience, jwksUrl: x.jwksUrl, algorithms: Object.freeze([...x.algorithms]), cacheMs: x.cacheMs, cooldownMs: x.cooldownMs, timeoutMs: x.timeoutMs })
        : undefined,
      framesPerSecond: s.limits.framesPerSecond,
      httpRequestsPerMinute: s.limits.httpRequestsPerMinute,
      loginAttemptsPerAccount: s.limits.loginAttemptsPerAccount,
      loginAttemptsPerAddress: s.limits.loginAttemptsPerAddress,
      loginWindowMs: s.limits.loginWindowSeconds * 1000,
      registrationsPerAddress: s.limits.registrationsPerAddress,
      maxSocketsPerUser: s.limits.maxSocketsPerUser,
      upgradeTimeoutMs: s.limits.upgradeTimeoutMs,
      httpBodyTimeoutMs: s.limits.httpBodyTimeoutMs,
      clientAddressHeader: s.clientAddressHeader?.toLowerCase(),
      metricsToken: s.metricsToken,
      revocationCheckMs: s.revocationCheckMs,
    }),
  });
}

/** The environment's settings, validated; throws a `ConfigError` that names every bad variable. */
export function settingsFromEnv(env: Record<string, string | undefined> = process.env): ResolvedSettings {
  const { options, issues } = readEnv(env);
  let parsed: ResolvedSettings | undefined;
  try {
    parsed = parseSettings(options);
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    issues.push(...err.issues.map(envIssue));
  }
  if (issues.length > 0 || !parsed) throw new ConfigError(`invalid configuration:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
  return parsed;
}

/** Parses the environment (normally `process.env`) into the runtime's `Config`. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return toConfig(settingsFromEnv(env));
}
