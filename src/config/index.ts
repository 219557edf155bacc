// Settings → the frozen `Config` the runtime reads. The settings come from `createServer`'s
// options or, for `npm start`, from the environment (./env.ts); both go through the one schema of
// ./options.ts, so there is one set of defaults.
import { envIssue, readEnv } from './env.js';
import { issuesOf, OptionsError, settingsSchema, type ResolvedSettings, type Settings } from './options.js';

export { OptionsError, type OptionIssue, type Settings, type ResolvedSettings, type LlmSettings } from './options.js';
export { optionsFromEnv, readEnv, variableFor, ENV_OPTIONS } from './env.js';

/**
 * The runtime's frozen view of the settings. Its type is what `toConfig` makes of the schema's
 * output (./options.ts), so a setting's type is written once, in the schema.
 */
export type Config = ReturnType<typeof toConfig>;
/** The LLM agent's settings, as the schema resolves them (`llm` of the options), frozen. */
export type LlmConfig = NonNullable<Config['llm']>;

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
export function toConfig(s: ResolvedSettings) {
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
    /** Undefined: the LLM agent if one is configured, else the first registered agent. */
    defaultAgent: s.defaultAgent,
    /** Undefined: no LLM agent (no model configured). */
    llm: l ? Object.freeze({ ...l, tools: l.tools ? Object.freeze([...l.tools]) : undefined, agents: l.agents ? Object.freeze([...l.agents]) : undefined }) : undefined,
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
      /** Undefined: tracing off. */
      tracesExporter: s.telemetry.exporter ?? (s.telemetry.endpoint ? 'otlp' : undefined),
      tracesEndpoint: s.telemetry.endpoint,
      serviceName: s.telemetry.serviceName,
      recordContent: s.telemetry.recordContent,
    }),
    security: Object.freeze({
      /** Undefined: only the server's own HS256 tokens are accepted. */
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
