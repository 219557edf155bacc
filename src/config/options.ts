// The one schema of agentwire's settings and their one set of defaults. `createServer(options)`
// parses its options with it; `npm start` turns the environment into the same object first
// (./env.ts), so every environment variable has exactly the default of its option.
import { z } from 'zod';

const int = (min: number, max: number) => z.number().int().min(min).max(max);

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

const origin = z.string().superRefine((o, ctx) => {
  if (o === '*') return;
  const fix = originFix(o);
  if (fix === o) return;
  ctx.addIssue({
    code: 'custom',
    message: `"${o}" is not an origin as a browser sends it: write ${fix ? `"${fix}"` : 'scheme://host[:port]'} (scheme://host[:port], e.g. http://localhost:8080; * allows any)`,
  });
});

/** Agent names travel in `agent_request.agent` (at most 64 characters). */
export const agentNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (at most 64, starting with a letter or digit)');

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const llmSchema = z
  .strictObject({
    /** `openai`: the Chat Completions format (most servers); `anthropic`: Anthropic's Messages API. */
    provider: z.enum(['openai', 'anthropic']).default('openai'),
    baseUrl: z.url(),
    apiKey: z.string().min(1).optional(),
    model: z.string({ error: (i) => (i.input === undefined ? 'required: the model to ask' : undefined) }).min(1),
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, _ - (at most 32)')
      .default('assistant'),
    systemPrompt: z.string().min(1).optional(),
    maxSteps: int(1, 100).default(8),
    historyTokens: int(0, 1_000_000).default(4_000),
    maxOutputTokens: int(1, 1_000_000).optional(),
    maxRetries: int(0, 10).default(2),
    timeoutMs: int(1_000, 3600 * 1000).default(60_000),
    streamIdleMs: int(100, 3600 * 1000).default(60_000),
    flushMs: int(0, 10_000).default(50),
    flushChars: int(1, 65_536).default(400),
    /** The tools it may call, by name; unset: every registered tool. */
    tools: z.array(z.string().min(1)).optional(),
    /** The agents it may hand tasks to (as `ask_<name>` calls); unset: every other registered agent. */
    agents: z.array(z.string().min(1)).optional(),
  })
  // Without a key the Anthropic client would go looking for credentials of its own (profiles, files).
  .refine((l) => l.provider !== 'anthropic' || l.apiKey, { message: 'required when the provider is anthropic', path: ['apiKey'] });

/** Every setting, with its default. Unknown keys are refused (a typo must not pass as a default). */
export const settingsShape = {
  port: int(0, 65535).default(8080),
  host: z.string().min(1).default('127.0.0.1'),
  /** `postgres://…`; unset: embedded PGlite under `dataDir`. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  /** Connections each process keeps to PostgreSQL (LISTEN takes one more). */
  databasePoolSize: int(1, 1000).default(10),
  /** The embedded database and the generated secret; `memory://`: PGlite in memory, nothing written. */
  dataDir: z.string().min(1).default('./data'),
  /** Browser origins allowed to open sockets; `*` allows any. Unset: this server's own origin. */
  allowedOrigins: z.array(origin).optional(),
  /** The agent of a request that names none. Unset: the LLM agent when `llm` is set, else the first of `agents`. */
  defaultAgent: agentNameSchema.optional(),
  /** gateway: sockets and HTTP; worker: runs agents; both: one process does everything. */
  role: z.enum(['both', 'gateway', 'worker']).default('both'),
  /** Names this process in leases and logs; unset: a random id per start. */
  nodeId: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)')
    .optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** After SIGTERM (`npm start`), how long to drain before exiting. */
  shutdownGraceMs: int(0, 600_000).default(10_000),
  auth: z
    .strictObject({
      /** HS256 secret, at least 32 characters. Unset: generated once and kept in the data directory. */
      jwtSecret: z.string().min(32, 'must be at least 32 characters').optional(),
      tokenTtlSeconds: int(60, 7 * 24 * 3600).default(3600),
      allowRegistration: z.boolean().default(true),
      /** An external identity provider: tokens whose `iss` is `issuer` are verified against its JWKS. */
      external: z
        .strictObject({
          issuer: z
            .string()
            .min(1)
            .refine((s) => s !== 'agentwire', "must differ from agentwire (the server's own issuer)"),
          audience: z.string().min(1),
          jwksUrl: z.url(),
          /** Asymmetric algorithms only: a symmetric one would let a JWKS public key be used as an HMAC secret. */
          algorithms: z.array(z.enum(ALGORITHMS)).min(1).default(['RS256', 'ES256']),
          /** How long fetched keys are trusted; the least time between two fetches (unknown `kid`s); the fetch's time limit. */
          cacheMs: int(1_000, 24 * 3600 * 1000).default(600_000),
          cooldownMs: int(0, 3600 * 1000).default(30_000),
          timeoutMs: int(100, 60_000).default(5_000),
        })
        .optional(),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxFrameBytes: int(1024, 16 * 1024 * 1024).default(65536),
      /** `agent_request`s per user per minute. */
      requestsPerMinute: int(1, 1_000_000).default(60),
      /** Per user, every client frame; past it `rate_limited`, and a socket that keeps flooding is closed with 1008. */
      framesPerSecond: int(1, 100_000).default(50),
      /** Per user, HTTP requests with a bearer token. */
      httpRequestsPerMinute: int(1, 1_000_000).default(600),
      idleTimeoutSeconds: int(8, 960).default(120),
      /** Bytes a socket may have queued before the server stops writing to it and catches up from the log on drain. */
      socketBufferBytes: int(16 * 1024, 64 * 1024 * 1024).default(1024 * 1024),
      /** A socket that reads nothing for this long while its buffer is full is closed (1013). */
      slowSocketCloseMs: int(1_000, 3600 * 1000).default(30_000),
      httpBodyMaxBytes: int(1024, 64 * 1024 * 1024).default(2 * 1024 * 1024),
      /** A body not received whole in this time is refused (408); an upgrade whose credential is not checked in this time, 503. */
      httpBodyTimeoutMs: int(100, 600_000).default(30_000),
      upgradeTimeoutMs: int(100, 600_000).default(10_000),
      /** Open sockets per user on one process. */
      maxSocketsPerUser: int(1, 100_000).default(16),
      /** Failed logins allowed per account and per client address in `loginWindowSeconds`. */
      loginAttemptsPerAccount: int(1, 1_000_000).default(10),
      loginAttemptsPerAddress: int(1, 1_000_000).default(100),
      loginWindowSeconds: int(1, 24 * 3600).default(900),
      /** Registrations (each costs a scrypt hash) per client address per hour. */
      registrationsPerAddress: int(1, 1_000_000).default(30),
    })
    .prefault({}),
  runs: z
    .strictObject({
      /** Runs executed at once by this process. */
      concurrency: int(1, 10_000).default(50),
      /** How long a worker's hold on a run lasts without renewal; a run whose lease lapses is taken over. */
      leaseMs: int(1_000, 600_000).default(5_000),
      /** A run still going after this ends with `agent_error timeout`. */
      timeoutMs: int(1_000, 24 * 3600 * 1000).default(10 * 60 * 1000),
      /** Failed attempts (a throw outside the agent's error handling, a lost lease) before `agent_error attempts_exhausted`. */
      maxAttempts: int(1, 100).default(5),
      /** The wait before a failed attempt's retry: doubled per failed attempt (at most 64 times this), with jitter. */
      retryDelayMs: int(10, 600_000).default(1_000),
      /** A tool call's time limit, unless the tool sets its own `timeoutMs`. */
      toolTimeoutMs: int(100, 3600 * 1000).default(30_000),
      /** A run waiting for its user's answer longer than this ends with `agent_error input_timeout`; unset: no limit. */
      inputTimeoutMs: int(1_000, 365 * 24 * 3600 * 1000).optional(),
      /** Tools every agent must ask its user's approval for before calling them (beside `defineTool({requiresApproval: true})`). */
      toolsRequiringApproval: z.array(z.string().min(1).max(64)).default([]),
    })
    .prefault({}),
  telemetry: z
    .strictObject({
      /** Unset: tracing off, unless `endpoint` is set (then `otlp`). */
      exporter: z.enum(['otlp', 'console']).optional(),
      /** The full URL OTLP/HTTP traces are posted to; unset: the exporter's default (localhost:4318). */
      endpoint: z.url().optional(),
      serviceName: z.string().min(1).default('agentwire'),
      /** Lets user text (the request's input) into span attributes. Off: ids, names and counts only. */
      recordContent: z.boolean().default(false),
    })
    .prefault({}),
  /** The statechart visualizer at /debug (docs/visualizer.md); only `token` holders and `adminUsers` may open it. */
  debug: z
    .strictObject({
      enabled: z.boolean().default(false),
      token: z.string().min(32, 'must be at least 32 characters').optional(),
      adminUsers: z.array(z.string().min(1)).default([]),
      /** How often the live feed sends the latest state of changed actors. */
      feedIntervalMs: int(50, 5_000).default(200),
      /** Actors listed one by one in each feed message; the rest are counted per state. */
      feedMaxActors: int(10, 5_000).default(100),
    })
    .prefault({}),
  /** A model-backed agent (docs/agents.md): by default it may call every registered tool and hand tasks to every other agent. */
  llm: llmSchema.optional(),
  /** Header a trusted reverse proxy sets to the client's address (e.g. x-real-ip); unset: the peer address. */
  clientAddressHeader: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/)
    .optional(),
  /** Bearer token /metrics requires when set; unset: /metrics is open (bind it to a private network). */
  metricsToken: z.string().min(16, 'must be at least 16 characters').optional(),
  /** How often open sockets are checked against revocations made on other processes. */
  revocationCheckMs: int(100, 3600 * 1000).default(10_000),
};

export const settingsSchema = z.strictObject(settingsShape);

/** Settings as written by a caller (every field optional). */
export type Settings = z.input<typeof settingsSchema>;
/** Settings with every default applied. */
export type ResolvedSettings = z.output<typeof settingsSchema>;
export type LlmSettingsInput = z.input<typeof llmSchema>;
/** The LLM agent's settings with every default applied. */
export type LlmSettings = z.output<typeof llmSchema>;

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function');
const object = z.custom<object>((v) => typeof v === 'object' && v !== null, 'must be an object');

/**
 * `createServer`'s options: the settings and what they run (agents, tools, hooks). Agents and
 * tools are checked one by one when the registry is built (./registry-check), naming the culprit.
 */
export const serverOptionsSchema = z.strictObject({
  ...settingsShape,
  agents: z.array(z.unknown()).optional(),
  tools: z.array(z.unknown()).optional(),
  toolContext: fn.optional(),
  onUserCreated: fn.optional(),
  /** A pino logger to log to instead of a new one at `logLevel` on stdout. */
  logger: object.optional(),
  /** Traces go to this OpenTelemetry provider instead of the configured exporter. */
  tracerProvider: object.optional(),
});

/** One problem with the options: where (a dotted path, e.g. `limits.maxFrameBytes`) and what. */
export interface OptionIssue {
  path: string;
  message: string;
}

/** Options that cannot start a server. The message lists every problem, each naming its option. */
export class OptionsError extends Error {
  override name = 'OptionsError';
  constructor(readonly issues: readonly OptionIssue[]) {
    super(`invalid options:\n${issues.map((i) => `  ${i.path || '(options)'}: ${i.message}`).join('\n')}`);
  }
}

export function issuesOf(error: z.ZodError): OptionIssue[] {
  return error.issues.map((i) => {
    // "Unrecognized key" issues name the keys in `keys`, not in the path.
    const keys = i.code === 'unrecognized_keys' ? i.keys : [undefined];
    return keys.map((k) => ({
      path: [...i.path, ...(k === undefined ? [] : [k])].map(String).join('.'),
      message: i.code === 'unrecognized_keys' ? 'unknown option' : i.message,
    }));
  }).flat();
}
