// The statechart visualizer's routes on the same uWS app (docs/visualizer.md):
//   GET  /debug                 the page (no credential: 303 to /debug/login; 403: a refusal page)
//   GET  /debug/login           the sign-in page (200; 303 to /debug when already signed in)
//   GET  /debug/app.js|app.css  the page's bundle (prebuilt by npm run build; see transport/pages.ts) and styles
//   GET  /debug/login.js        the sign-in page's script (no data in it)
//   POST /debug/session         {token} or {username, password} → the `aw_debug` cookie
//   GET  /debug/api/machines    every machine of machines/ as a graph
//   GET  /debug/api/runs        the latest runs; /debug/api/runs/:runId its events, replayed
//   WS   /debug/ws              the live feed (src/debug/feed.ts)
// None of it exists unless DEBUG_ENABLED=true: then /debug… answers 404 like any unknown path.
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type WebSocket, type us_socket_context_t } from 'uWebSockets.js';
import { z } from 'zod';
import { machines } from '../../machines/index.js';
import { credentialsSchema } from '../auth/service.js';
import { withoutSecrets, type Logger } from '../log/logger.js';
import { AppError, badRequest, errorFrame, unavailable } from '../protocol/errors.js';
import type { RunEvent } from '../protocol/events.js';
import type { RunRow } from '../store/runs.js';
import { parseJsonBody, type Res } from '../transport/http.js';
import { acceptUpgrade, recordClose, recordOpen, refuseUpgrade, type Opening } from '../transport/upgrade.js';
import { loadPage, PAGES } from '../transport/pages.js';
import { checkingCredential, router, type RouteRequest, type RouteShape } from '../transport/route.js';
import { COOKIE, credentialOf, type Access, type DebugAccess } from './access.js';
import type { DebugFeed, FeedSubscriber } from './feed.js';
import { machineGraph } from './graph.js';
import { replayEvents } from './replay.js';

export interface DebugDeps {
  access: DebugAccess;
  feed: DebugFeed;
  /** Username and password → a JWT (the normal login). */
  login(c: { username: string; password: string }): Promise<{ token: string; expiresAt: Date }>;
  getRun(runId: string): Promise<RunRow | undefined>;
  events(runId: string): Promise<RunEvent[]>;
  recentRuns(limit: number): Promise<RunRow[]>;
  /** The run's rating by its user, if any (shown with its replay). */
  rating?(runId: string): Promise<{ rating: 'up' | 'down'; comment?: string } | undefined>;
  allowedOrigins(): readonly string[];
  log: Logger;
  /** A request body not received whole within this is answered 408 (HTTP_BODY_TIMEOUT_MS). */
  bodyTimeoutMs: number;
  clientAddressHeader?: string | undefined;
}

const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/** Replays stop here: a run with more events is shown up to this many. */
const REPLAY_MAX_EVENTS = 10_000;
const SESSION_BODY_MAX = 8 * 1024;

type Asset = { body: string; type: string };
let assets: Promise<Map<string, Asset>> | undefined;

async function build(): Promise<Map<string, Asset>> {
  const page = await loadPage(PAGES.debug);
  const html = (f: string): Asset => ({ body: page.get(f)!, type: 'text/html; charset=utf-8' });
  return new Map([
    ['page', html('index.html')],
    ['login', html('login.html')],
    ['forbidden', html('forbidden.html')],
    ['/debug/app.js', { body: page.get('app.js')!, type: 'text/javascript; charset=utf-8' }],
    ['/debug/login.js', { body: page.get('login.js')!, type: 'text/javascript; charset=utf-8' }],
    ['/debug/app.css', { body: page.get('app.css')!, type: 'text/css; charset=utf-8' }],
  ]);
}

const getAssets = () => {
  assets ??= build().catch((err: unknown) => {
    assets = undefined;
    throw err;
  });
  return assets;
};

const sessionBody = z.union([z.strictObject({ token: z.string().min(1).max(4096) }), credentialsSchema]);
const runsQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(30) });
const focusFrame = z.strictObject({ type: z.literal('focus'), id: z.string().max(128).nullable() });

interface DebugSocket extends Opening<DebugSocket> {
  sub?: FeedSubscriber;
  unsubscribe?: () => void;
}

/** Past this many bytes queued on a debug socket, feed messages are skipped until it drains. */
const SOCKET_SKIP_BYTES = 512 * 1024;

export function registerDebug(app: TemplatedApp, d: DebugDeps): void {
  const wrap = router({ log: d.log, bodyTimeoutMs: d.bodyTimeoutMs, clientAddressHeader: d.clientAddressHeader });
  // Every route learns who is asking; the check is awaited inside the shared wrapper, after it
  // has attached the body reader (uWS drops a body that arrives with no reader attached).
  const route = (shape: RouteShape, handler: (req: RouteRequest, res: Res, access: Access) => Promise<void>) =>
    wrap(shape, async (req, res) => {
      const credential = credentialOf(req.headers.authorization, req.headers.cookie);
      return handler(req, res, credential ? await checkingCredential([credential], () => d.access.check(credential)) : { ok: false, status: 401 });
    });
  const require = (a: Access) => {
    if (!a.ok) throw refusal(a.status);
  };
  const html = (res: Res, status: number, asset: Asset) => res.send(status, asset.body, asset.type, [['Content-Security-Policy', CSP]]);

  // A stranger is sent to the sign-in page rather than answered 401 with it: a page that
  // arrives as an error logs one in the browser's console on every visit. The API keeps 401.
  app.get('/debug', route({}, async (_req, res, access) => {
    const a = await getAssets();
    if (access.ok) html(res, 200, a.get('page')!);
    else if (access.status === 401) res.send(303, '', 'text/plain; charset=utf-8', [['Location', '/debug/login']]);
    else html(res, 403, a.get('forbidden')!);
  }));
  app.get('/debug/login', route({}, async (_req, res, access) => {
    if (access.ok) return res.send(303, '', 'text/plain; charset=utf-8', [['Location', '/debug']]);
    html(res, 200, (await getAssets()).get('login')!);
  }));
  for (const path of ['/debug/app.js', '/debug/app.css', '/debug/login.js']) {
    app.get(path, route({}, async (_req, res, access) => {
      // The visualizer's code holds no data, but only its sign-in part is served to strangers.
      if (path === '/debug/app.js') require(access);
      const a = (await getAssets()).get(path)!;
      res.send(200, a.body, a.type, [['Content-Security-Policy', CSP]]);
    }));
  }

  app.post('/debug/session', route({ body: SESSION_BODY_MAX }, async (req, res) => {
    const body = sessionBody.safeParse(parseJsonBody(await req.body()));
    if (!body.success) throw badRequest('send {token} or {username, password}');
    let credential: string;
    let maxAge: number | undefined;
    if ('token' in body.data) credential = body.data.token;
    else {
      const login = body.data;
      const { token, expiresAt } = await checkingCredential([login.password], () => d.login(login));
      credential = token;
      maxAge = Math.max(1, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
    }
    const access = await checkingCredential([credential], () => d.access.check(credential));
    require(access);
    const cookie = `${COOKIE}=${encodeURIComponent(credential)}; Path=/debug; HttpOnly; SameSite=Strict${maxAge ? `; Max-Age=${maxAge}` : ''}`;
    res.send(200, JSON.stringify({ who: access.ok ? access.who : '' }), 'application/json', [['Set-Cookie', cookie]]);
  }));
  app.del('/debug/session', route({}, async (_req, res) => {
    res.send(200, '{}', 'application/json', [['Set-Cookie', `${COOKIE}=; Path=/debug; HttpOnly; SameSite=Strict; Max-Age=0`]]);
  }));

  app.get('/debug/api/machines', route({}, async (_req, res, access) => {
    require(access);
    res.json(200, { machines: Object.entries(machines).map(([name, m]) => ({ name, graph: machineGraph(m) })) });
  }));

  app.get('/debug/api/runs', route({}, async (req, res, access) => {
    require(access);
    const q = runsQuery.safeParse(Object.fromEntries(req.query));
    if (!q.success) throw badRequest('limit: 1 to 200');
    res.json(200, { runs: (await d.recentRuns(q.data.limit)).map(runInfo) });
  }));

  app.get('/debug/api/runs/:runId', route({ params: 1 }, async (req, res, access) => {
    require(access);
    const run = await d.getRun(req.params[0] ?? '');
    if (!run) throw new AppError('not_found', 'run not found');
    const events = await d.events(run.id);
    const rating = await d.rating?.(run.id);
    res.json(200, { run: runInfo(run), truncated: events.length >= REPLAY_MAX_EVENTS, replay: replayEvents(events), ...(rating ? { rating } : {}) });
  }));

  /** A visualizer socket's life after the upgrade: it follows the live feed until it closes. */
  const subscribe = (ws: WebSocket<DebugSocket>): void => {
    const data = ws.getUserData();
    let open = true;
    const sub: FeedSubscriber = {
      focus: undefined,
      send: (text) => {
        if (!open || ws.getBufferedAmount() > SOCKET_SKIP_BYTES) return false;
        return ws.send(text, false, false) !== 2;
      },
      close: () => {
        if (open) ws.end(1001, 'server shutting down');
      },
    };
    data.sub = sub;
    data.unsubscribe = () => {
      open = false;
      unsubscribe();
    };
    const unsubscribe = d.feed.subscribe(sub);
  };

  app.ws<DebugSocket>('/debug/ws', {
    compression: uWS.DISABLED,
    maxPayloadLength: 4 * 1024,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    maxBackpressure: 4 * SOCKET_SKIP_BYTES,
    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      const key = req.getHeader('sec-websocket-key');
      const extensions = req.getHeader('sec-websocket-extensions');
      const origin = req.getHeader('origin');
      const connection = req.getHeader('connection').toLowerCase();
      const credential = credentialOf(req.getHeader('authorization'), req.getHeader('cookie'));
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      // As on /v1/ws: uWS would close a socket whose upgrade asked to close the connection.
      if (!connection.includes('upgrade') || /\bclose\b/.test(connection)) return void refuseUpgrade(res, badRequest('a WebSocket upgrade needs "Connection: Upgrade"'));
      // The cookie rides along on any page's socket: only this server's own pages may use it.
      const allowed = d.allowedOrigins();
      if (origin !== '' && !allowed.includes('*') && !allowed.includes(origin)) return void refuseUpgrade(res, new AppError('forbidden', 'origin not allowed'));
      void d.access.check(credential).then(
        (access) => {
          if (aborted) return;
          if (!access.ok) return void refuseUpgrade(res, refusal(access.status));
          // No subprotocol: the credential is the cookie or the header, never echoed.
          const ws = acceptUpgrade<DebugSocket>(res, {}, key, '', extensions, context);
          if (ws) subscribe(ws);
        },
        (err: unknown) => {
          d.log.warn({ err: credential ? withoutSecrets(err, [credential]) : err }, 'visualizer socket: access check failed');
          if (!aborted) refuseUpgrade(res, unavailable('try again later', err));
        },
      );
    },
    open: recordOpen,
    message: (ws, message) => {
      const data = ws.getUserData();
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(message).toString('utf8'));
      } catch {
        parsed = undefined;
      }
      const f = focusFrame.safeParse(parsed);
      if (!f.success) {
        ws.send(JSON.stringify(errorFrame(badRequest('expected {"type":"focus","id":…}'))));
        return;
      }
      if (data.sub) d.feed.refocus(data.sub, f.data.id ?? undefined);
    },
    close: (ws) => {
      recordClose(ws);
      ws.getUserData().unsubscribe?.();
    },
  });
}

/** Why the visualizer refuses: 401 to sign in, 403 for a user who is not an admin. */
function refusal(status: 401 | 403): AppError {
  return status === 401 ? new AppError('unauthorized', 'sign in to the visualizer') : new AppError('forbidden', 'an admin role is required');
}

function runInfo(r: RunRow) {
  return {
    id: r.id,
    threadId: r.thread_id,
    userId: r.user_id,
    agent: r.agent,
    status: r.status,
    lastSeq: r.last_seq,
    attempt: r.attempt,
    createdAt: new Date(r.created_at).toISOString(),
    finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
  };
}

export { REPLAY_MAX_EVENTS };
