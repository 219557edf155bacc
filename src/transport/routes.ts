// The HTTP routes of PROTOCOL section 1 (and `POST /v1/usage`, documented in docs/protocol.md).
import type { TemplatedApp } from 'uWebSockets.js';
import { z } from 'zod';
import { timingSafeEqual } from 'node:crypto';
import { credentialsSchema, passwordChangeSchema, registrationSchema, type AuthService } from '../auth/service.js';
import type { Logger } from '../log/logger.js';
import { AppError, badRequest } from '../protocol/errors.js';
import type { RunService } from '../runs/service.js';
import { feedbackBody, type FeedbackService } from '../runs/feedback.js';
import { pageQuery, type ThreadService } from '../runs/threads.js';
import { RateLimiter } from '../limits/rate-limit.js';
import { bearer, parseJsonBody, type Req } from './http.js';
import { checkingCredential, router } from './route.js';
import { registerFrontEnds, type FrontEndDeps } from '../frontends/routes.js';

export interface RouteDeps {
  auth: AuthService;
  runs: RunService;
  threads: ThreadService;
  log: Logger;
  bodyMaxBytes: number;
  /** Stores an upload of usage records; returns how many. */
  uploadUsage(userId: string, body: string, contentType: string): Promise<number>;
  ready(): Promise<boolean>;
  metrics(): Promise<string>;
  feedback: FeedbackService;
  /** True while the server accepts work (false once shutdown began). */
  accepting(): boolean;
  /** The SSE front-ends (docs/front-ends.md); absent, their routes are not served. */
  frontEnds?: FrontEndDeps;
  /** Hardening settings (docs/security.md); defaults keep the routes open as before. */
  security?: {
    metricsToken?: string | undefined;
    httpRequestsPerMinute?: number;
    clientAddressHeader?: string | undefined;
    bodyTimeoutMs?: number;
    /** The user's tokens were revoked: close this process's sockets that were opened with them. */
    onRevoked?(userId: string, tokenVersion: number): void;
  };
}

const AUTH_BODY_MAX = 16 * 1024;

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw badRequest(`${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
}

export function registerRoutes(app: TemplatedApp, d: RouteDeps, opts: { gateway: boolean } = { gateway: true }): void {
  const sec = d.security ?? {};
  const bodyTimeout = sec.bodyTimeoutMs ?? 30_000;
  const perUser = new RateLimiter(sec.httpRequestsPerMinute ?? 600, 60_000);
  const route = router({ log: d.log, bodyTimeoutMs: bodyTimeout, clientAddressHeader: sec.clientAddressHeader });
  /** Every bearer route: a valid, unrevoked token, then the caller's HTTP request budget. */
  const authed = async (req: Req): Promise<string> => {
    const token = bearer(req.headers.authorization);
    const user = token ? await checkingCredential([token], () => d.auth.authenticate(token)) : undefined;
    if (!user) throw new AppError('unauthorized', 'a valid bearer token is required');
    const wait = perUser.take(user.userId);
    if (wait > 0) throw new AppError('rate_limited', 'too many requests', { retryAfterMs: wait });
    return user.userId;
  };
  const metricsAllowed = (req: Req): boolean => {
    if (!sec.metricsToken) return true;
    const given = Buffer.from(bearer(req.headers.authorization) ?? '');
    const want = Buffer.from(sec.metricsToken);
    return given.length === want.length && timingSafeEqual(given, want);
  };
  const guardAccepting = () => {
    if (!d.accepting()) throw new AppError('unavailable', 'the server is shutting down; retry on another node or later');
  };

  app.get('/healthz', route({}, async (_req, res) => res.json(200, { status: 'ok' })));
  app.get('/readyz', route({}, async (_req, res) => {
    const ok = d.accepting() && (await d.ready());
    res.json(ok ? 200 : 503, { status: ok ? 'ready' : 'unavailable' });
  }));
  app.get('/metrics', route({}, async (req, res) => {
    if (!metricsAllowed(req)) throw new AppError('unauthorized', 'metrics need the METRICS_TOKEN bearer token');
    res.send(200, await d.metrics(), 'text/plain; version=0.0.4');
  }));
  const notFound = route({}, async (req, res) => {
    res.json(404, { error: { code: 'not_found', message: `no route ${req.method.toUpperCase()} ${req.path}` } });
  });
  if (!opts.gateway) {
    app.any('/*', notFound);
    return;
  }

  app.post('/v1/auth/register', route({ body: AUTH_BODY_MAX }, async (req, res) => {
    guardAccepting();
    const body = parse(registrationSchema, parseJsonBody(await req.body()));
    res.json(201, await d.auth.register(body, req.address));
  }));

  app.post('/v1/auth/login', route({ body: AUTH_BODY_MAX }, async (req, res) => {
    const body = parse(credentialsSchema, parseJsonBody(await req.body()));
    const { token, expiresAt, userId } = await checkingCredential([body.password], () => d.auth.login(body, req.address));
    res.json(200, { token, expiresAt: expiresAt.toISOString(), userId });
  }));

  // Not in PROTOCOL section 1 (docs/protocol.md): revoke every token of the caller.
  app.post('/v1/auth/logout', route({}, async (req, res) => {
    const userId = await authed(req);
    const version = await d.auth.logout(userId);
    sec.onRevoked?.(userId, version);
    res.json(200, { revoked: true });
  }));

  app.post('/v1/auth/password', route({ body: AUTH_BODY_MAX }, async (req, res) => {
    const userId = await authed(req);
    const body = parse(passwordChangeSchema, parseJsonBody(await req.body()));
    const { token, expiresAt } = await checkingCredential([body.currentPassword, body.newPassword], () => d.auth.changePassword(userId, body, req.address));
    const version = await d.auth.tokenVersion(userId);
    if (version !== undefined) sec.onRevoked?.(userId, version);
    res.json(200, { token, expiresAt: expiresAt.toISOString(), userId });
  }));

  app.post('/v1/auth/ws-ticket', route({}, async (req, res) => {
    const userId = await authed(req);
    const { ticket, expiresAt } = await d.auth.issueTicket(userId);
    res.json(200, { ticket, expiresAt: expiresAt.toISOString() });
  }));

  app.get('/v1/threads', route({}, async (req, res) => {
    const userId = await authed(req);
    const q = parse(pageQuery, Object.fromEntries(req.query));
    res.json(200, await d.threads.list(userId, q));
  }));

  app.get('/v1/threads/:threadId', route({ params: 1 }, async (req, res) => {
    const userId = await authed(req);
    res.json(200, await d.threads.get(userId, req.params[0] ?? ''));
  }));

  const eventsQuery = z.object({
    after: z.coerce.number().int().min(0).max(2 ** 31 - 1).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(1000),
  });
  app.get('/v1/runs/:runId/events', route({ params: 1 }, async (req, res) => {
    const userId = await authed(req);
    const q = parse(eventsQuery, Object.fromEntries(req.query));
    const runId = req.params[0] ?? '';
    const events = await d.runs.events(userId, runId, q.after, q.limit);
    // Pre-serialised events are spliced in as they are: the same bytes as on the socket.
    res.send(200, `{"runId":${JSON.stringify(runId)},"events":[${events.map((e) => e.json).join(',')}]}`);
  }));

  // Not in the original table (docs/protocol.md): ratings of finished runs.
  app.post('/v1/runs/:runId/feedback', route({ params: 1, body: 8 * 1024 }, async (req, res) => {
    const userId = await authed(req);
    const body = parse(feedbackBody, parseJsonBody(await req.body()));
    res.json(200, await d.feedback.rate(userId, req.params[0] ?? '', body));
  }));

  app.get('/v1/feedback', route({}, async (req, res) => {
    const userId = await authed(req);
    res.json(200, { feedback: await d.feedback.list(userId) });
  }));

  const summaryQuery = z.object({ days: z.coerce.number().int().min(1).max(366).default(30) });
  app.get('/v1/feedback/summary', route({}, async (req, res) => {
    const userId = await authed(req);
    const q = parse(summaryQuery, Object.fromEntries(req.query));
    res.json(200, { days: q.days, summary: await d.feedback.summary(userId, q.days) });
  }));

  app.post('/v1/usage', route({ body: d.bodyMaxBytes }, async (req, res) => {
    const userId = await authed(req);
    const body = await req.body();
    const inserted = await d.uploadUsage(userId, body.toString('utf8'), req.headers.contentType);
    res.json(201, { inserted });
  }));

  if (d.frontEnds) {
    registerFrontEnds(app, d.frontEnds, { route, authed, parse, json: parseJsonBody, guardAccepting, bodyMaxBytes: d.bodyMaxBytes });
  }

  app.any('/*', notFound);
}
