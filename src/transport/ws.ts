// The socket endpoint `GET /v1/ws` (PROTOCOL section 2): authentication and the Origin check
// happen before the upgrade is accepted; afterwards every frame goes through one decode step.
import { BEARER_PREFIX, CLOSE_CODES, SUBPROTOCOL } from '../protocol/wire.js';
import { randomUUID } from 'node:crypto';
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type WebSocket, type us_socket_context_t } from 'uWebSockets.js';
import type { AuthService } from '../auth/service.js';
import { withoutSecrets, type Logger } from '../log/logger.js';
import { decodeClientFrame } from '../protocol/decode.js';
import { AppError, badRequest, errorFrame, unavailable } from '../protocol/errors.js';
import type { RunService } from '../runs/service.js';
import type { SendResult, SocketChannel, SocketSink } from '../session/cursor.js';
import type { FrameHandler } from '../session/frames.js';
import type { SessionHub } from '../session/hub.js';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { ATTR, SPAN, Telemetry } from '../telemetry/index.js';
import { RateLimiter } from '../limits/rate-limit.js';
import { bearer } from './http.js';
import { acceptUpgrade, recordClose, recordOpen, refuseUpgrade, type Opening } from './upgrade.js';

export { SUBPROTOCOL };
export const CLOSE_TOKEN_EXPIRED = CLOSE_CODES.tokenExpired;

interface SocketData extends Opening<SocketData> {
  userId: string;
  socketId: string;
  expiresAt: number;
  /** The user's token version when the socket was authenticated: a later logout or password change closes it (4401). */
  tokenVersion: number;
  /** Frames refused by the per-user frame rate in a row; past a bound the socket is closed (1008). */
  refusedInARow?: number;
  /** Frees the upgrade's place in the per-user socket count once the socket counts itself. */
  release?: () => void;
  channel?: SocketChannel;
  expiryTimer?: NodeJS.Timeout;
  sink?: UwsSink;
  /** The socket's frames are handled one after another, and only after session_ready was sent. */
  queue?: Promise<void>;
  pending?: number;
  ready?: () => void;
}

/** Frames a socket may have waiting to be handled; past it the client is flooding (1008). */
const MAX_PENDING_FRAMES = 256;

export interface WsDeps {
  auth: AuthService;
  runs: RunService;
  hub: SessionHub;
  frames: FrameHandler;
  log: Logger;
  maxFrameBytes: number;
  requestsPerMinute: number;
  idleTimeoutSeconds: number;
  socketBufferBytes: number;
  /** Origins allowed to open sockets from a browser; `*` allows any. Read per upgrade (the port is known only after listen). */
  allowedOrigins(): readonly string[];
  accepting(): boolean;
  telemetry?: Telemetry;
  /** Hardening limits (docs/security.md); defaults apply when absent. */
  limits?: {
    framesPerSecond?: number;
    maxSocketsPerUser?: number;
    upgradeTimeoutMs?: number;
  };
}

/** Rate-limited frames in a row after which a socket is closed with 1008 (repeated abuse). */
const MAX_REFUSED_IN_A_ROW = 100;

/**
 * Calls `close` when the socket's credential expires (`expiresAt`, ms since the epoch; infinite for
 * a ticket's socket, which never expires by itself). Timers over 2^31-1 ms fire at once, so the wait
 * is capped there; tokens live at most a week, well under that.
 */
export function closeAtExpiry(expiresAt: number, close: () => void, now = Date.now()): NodeJS.Timeout | undefined {
  if (!Number.isFinite(expiresAt)) return undefined;
  return setTimeout(close, Math.max(0, Math.min(expiresAt - now, 2 ** 31 - 1)));
}

class UwsSink implements SocketSink {
  closed = false;
  constructor(
    readonly id: string,
    private readonly ws: WebSocket<SocketData>,
  ) {}

  send(text: string): SendResult {
    if (this.closed) return 'dropped';
    let r = 2;
    this.ws.cork(() => {
      r = this.ws.send(text, false, false);
    });
    // Never advance a cursor on 2 (dropped); 0 means queued with backpressure building.
    return r === 1 ? 'ok' : r === 0 ? 'backpressure' : 'dropped';
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.end(code, reason);
  }

  get buffered(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }
}

/** Which credential the upgrade carries: subprotocol, header, or ticket (in that order). */
function credential(protocols: string, authorization: string, query: string): { kind: 'token' | 'ticket'; value: string } | undefined {
  for (const p of protocols.split(',')) {
    const s = p.trim();
    if (s.startsWith(BEARER_PREFIX)) return { kind: 'token', value: s.slice(BEARER_PREFIX.length) };
  }
  const b = bearer(authorization);
  if (b) return { kind: 'token', value: b };
  const ticket = new URLSearchParams(query).get('ticket');
  if (ticket) return { kind: 'ticket', value: ticket };
  return undefined;
}

/** Settles with 'timeout' if `p` has not settled within `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))]).finally(() => clearTimeout(timer));
}

function endUpgradeSpan(span: Span, status: number, code?: string): void {
  if (span.isRecording()) span.setAttribute(ATTR.upgradeStatus, status);
  if (code) span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  span.end();
}

export function registerWebSocket(app: TemplatedApp, d: WsDeps): void {
  const t = d.telemetry ?? Telemetry.off();
  const framesPerSecond = d.limits?.framesPerSecond ?? 20;
  const maxSockets = d.limits?.maxSocketsPerUser ?? 16;
  const upgradeTimeoutMs = d.limits?.upgradeTimeoutMs ?? 10_000;
  const frames = new RateLimiter(framesPerSecond, 1000);
  /** Upgrades authenticated but not yet open, per user: counted against the socket limit. */
  const opening = new Map<string, number>();
  const originAllowed = (origin: string) => {
    if (origin === '') return true;
    const allowed = d.allowedOrigins();
    return allowed.includes('*') || allowed.includes(origin);
  };

  /** A socket's life after the upgrade: its sink, its session, its expiry, then session_ready. */
  const startSession = (ws: WebSocket<SocketData>): void => {
    const data = ws.getUserData();
    d.log.debug({ userId: data.userId, socketId: data.socketId }, 'socket opened');
    const sink = new UwsSink(data.socketId, ws);
    data.sink = sink;
    // The hub is the one registry of the user's sockets: it counts this one from here on.
    const channel = d.hub.open(data.userId, sink, data.tokenVersion);
    data.release?.();
    data.channel = channel;
    data.pending = 0;
    data.queue = new Promise<void>((resolve) => (data.ready = resolve));
    data.expiryTimer = closeAtExpiry(data.expiresAt, () => sink.close(CLOSE_TOKEN_EXPIRED, 'token expired; reconnect with a new one'));
    d.runs
      .sessionSnapshot(data.userId)
      .then(({ runs, asOf }) => {
        d.hub.ready(channel, asOf, {
          type: 'session_ready',
          sessionId: data.socketId,
          userId: data.userId,
          serverTime: new Date().toISOString(),
          limits: { maxFrameBytes: d.maxFrameBytes, requestsPerMinute: d.requestsPerMinute },
          runs,
        });
        data.ready?.();
      })
      .catch((err: unknown) => {
        d.log.error({ err, userId: data.userId, socketId: data.socketId }, 'session snapshot failed');
        sink.close(1011, 'internal error; reconnect');
      });
  };

  app.ws<SocketData>('/v1/ws', {
    compression: uWS.DISABLED,
    // uWS drops a frame over its own limit without a close frame; ours is enforced in `message`
    // with 1009, so uWS's sits above it (frames beyond that are still dropped, unanswered).
    maxPayloadLength: d.maxFrameBytes * 4,
    idleTimeout: d.idleTimeoutSeconds,
    sendPingsAutomatically: true,
    maxBackpressure: d.socketBufferBytes,
    closeOnBackpressureLimit: 0,

    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      // Copy what we need: `req` dies at the first await.
      const key = req.getHeader('sec-websocket-key');
      const protocols = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const origin = req.getHeader('origin');
      const connection = req.getHeader('connection').toLowerCase();
      const cred = credential(protocols, req.getHeader('authorization'), req.getQuery() ?? '');
      const span = t.tracer.startSpan(SPAN.upgrade, t.tracing ? { kind: SpanKind.SERVER, attributes: { 'http.route': '/v1/ws' } } : {});
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      const refuse = (err: AppError): void => {
        const status = refuseUpgrade(res, err);
        endUpgradeSpan(span, status, err.code);
      };
      // RFC 6455 asks for `Connection: Upgrade`; uWS marks a request that says `close` (or any
      // five-letter value) "close the connection", and would close the socket it upgrades.
      if (!connection.includes('upgrade') || /\bclose\b/.test(connection)) return refuse(badRequest('a WebSocket upgrade needs "Connection: Upgrade"'));
      if (!originAllowed(origin)) return refuse(new AppError('forbidden', 'origin not allowed'));
      if (!d.accepting()) return refuse(unavailable('the server is shutting down'));
      if (!cred) return refuse(new AppError('unauthorized', 'a token or ticket is required'));
      const offered = protocols.split(',').map((p) => p.trim());
      // Answer with our protocol only; the token offered beside it is never echoed.
      const chosen = offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : '';
      void (async () => {
        let user: { userId: string; expiresAt: number; tokenVersion: number } | undefined;
        const auth = t.tracer.startSpan(SPAN.auth, t.tracing ? { attributes: { [ATTR.authKind]: cred.kind } } : {}, trace.setSpan(ROOT_CONTEXT, span));
        try {
          const check = async () => {
            if (cred.kind === 'token') {
              const u = await d.auth.authenticate(cred.value);
              if (u) user = { userId: u.userId, expiresAt: u.expiresAt.getTime(), tokenVersion: u.tokenVersion };
            } else {
              const userId = await d.auth.redeemTicket(cred.value);
              const version = userId ? await d.auth.tokenVersion(userId) : undefined;
              // A ticket admits the socket; the socket then lives like a fresh token would.
              if (userId && version !== undefined) user = { userId, expiresAt: Number.POSITIVE_INFINITY, tokenVersion: version };
            }
          };
          // A credential check that hangs (a database or identity provider that does not answer)
          // must not hold the connection: uWS has no timer on it once the request is in.
          if ((await within(check(), upgradeTimeoutMs)) === 'timeout') throw new Error(`credential check timed out after ${upgradeTimeoutMs} ms`);
        } catch (err) {
          auth.setStatus({ code: SpanStatusCode.ERROR, message: 'unavailable' });
          auth.end();
          // The error came from checking this credential: it must not reach the log, whatever quoted it.
          d.log.warn({ err: withoutSecrets(err, [cred.value]) }, 'upgrade authentication failed');
          if (!aborted) refuse(unavailable('try again later', err));
          else span.end();
          return;
        }
        if (auth.isRecording()) auth.setAttribute(ATTR.authResult, user ? 'ok' : 'refused');
        auth.end();
        if (aborted) {
          span.end();
          return;
        }
        if (!user) return refuse(new AppError('unauthorized', 'invalid token or ticket'));
        // The server may have begun shutting down while the credential was checked.
        if (!d.accepting()) return refuse(unavailable('the server is shutting down'));
        const userId = user.userId;
        const inFlight = opening.get(userId) ?? 0;
        if (d.hub.socketsOf(userId) + inFlight >= maxSockets)
          return refuse(new AppError('rate_limited', `at most ${maxSockets} open sockets per user`, { retryAfterMs: 1000 }));
        // Counted until the session starts (or, should it never start, for a second), so parallel
        // upgrades cannot overshoot; the session then counts the socket itself.
        opening.set(userId, inFlight + 1);
        let reserved = true;
        const release = () => {
          if (!reserved) return;
          reserved = false;
          const n = (opening.get(userId) ?? 1) - 1;
          if (n <= 0) opening.delete(userId);
          else opening.set(userId, n);
        };
        setTimeout(release, 1000).unref();
        const data: SocketData = { userId: user.userId, socketId: randomUUID(), expiresAt: user.expiresAt, tokenVersion: user.tokenVersion, release };
        if (span.isRecording()) span.setAttributes({ [ATTR.userId]: data.userId, [ATTR.socketId]: data.socketId });
        endUpgradeSpan(span, 101);
        // `open` only records the socket; the session starts here, once uWS is done (upgrade.ts says why).
        const ws = acceptUpgrade(res, data, key, chosen, extensions, context);
        if (ws) startSession(ws);
      })();
    },

    open: recordOpen,

    message: (ws, message, isBinary) => {
      const data = ws.getUserData();
      const channel = data.channel;
      if (!channel) return;
      if (message.byteLength > d.maxFrameBytes) {
        channel.sink.close(1009, `frame over ${d.maxFrameBytes} bytes`);
        return;
      }
      // Decoded now: uWS reuses the message's memory after this callback returns.
      const decoded = decodeClientFrame(message, isBinary);
      if ((data.pending ?? 0) >= MAX_PENDING_FRAMES) {
        channel.sink.close(1008, 'too many frames in flight');
        return;
      }
      // Every frame of the user, on all of its sockets, counts against FRAMES_PER_SECOND.
      const wait = frames.take(data.userId);
      if (wait > 0) {
        data.refusedInARow = (data.refusedInARow ?? 0) + 1;
        if (data.refusedInARow > MAX_REFUSED_IN_A_ROW) {
          channel.sink.close(1008, 'too many frames; repeated abuse');
          return;
        }
      } else data.refusedInARow = 0;
      data.pending = (data.pending ?? 0) + 1;
      data.queue = (data.queue ?? Promise.resolve())
        .then(async () => {
          if (channel.closed) return;
          if (wait > 0) {
            const ids = decoded.ok ? { ...('requestId' in decoded.frame ? { requestId: decoded.frame.requestId } : {}), ...('runId' in decoded.frame ? { runId: decoded.frame.runId } : {}) } : {};
            channel.sink.send(JSON.stringify(errorFrame(new AppError('rate_limited', 'too many frames', { retryAfterMs: wait }), ids)));
            return;
          }
          if (decoded.ok) return d.frames.handle(channel, decoded.frame);
          channel.sink.send(JSON.stringify(errorFrame(badRequest(decoded.message), { requestId: decoded.requestId, runId: decoded.runId })));
        })
        .catch((err: unknown) => d.log.error({ err, userId: data.userId, socketId: data.socketId }, 'frame handling failed'))
        .finally(() => {
          data.pending = (data.pending ?? 1) - 1;
        });
    },

    drain: (ws) => {
      const data = ws.getUserData();
      if (data.channel && data.sink && data.sink.buffered < 64 * 1024) data.channel.resumeAfterDrain();
    },

    close: (ws, code) => {
      recordClose(ws);
      const data = ws.getUserData();
      d.log.debug({ userId: data.userId, socketId: data.socketId, code }, 'socket closed');
      if (data.sink) data.sink.closed = true;
      if (data.expiryTimer) clearTimeout(data.expiryTimer);
      if (data.channel) d.hub.close(data.channel);
    },
  });
}
