// The socket endpoint `GET /v1/ws` (PROTOCOL section 2): authentication and the Origin check
// happen before the upgrade is accepted; afterwards every frame goes through one decode step.
import { randomUUID } from 'node:crypto';
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type WebSocket, type us_socket_context_t } from 'uWebSockets.js';
import type { AuthService } from '../auth/service.js';
import type { Logger } from '../log/logger.js';
import { decodeClientFrame } from '../protocol/decode.js';
import type { RunService } from '../runs/service.js';
import type { SendResult, SocketChannel, SocketSink } from '../session/cursor.js';
import type { FrameHandler } from '../session/frames.js';
import type { SessionHub } from '../session/hub.js';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { ATTR, SPAN, Telemetry } from '../telemetry/index.js';
import { SECURITY_HEADERS, bearer } from './http.js';

export const SUBPROTOCOL = 'agentwire.v1';
const BEARER_PREFIX = 'bearer.';
export const CLOSE_TOKEN_EXPIRED = 4401;

interface SocketData {
  userId: string;
  socketId: string;
  expiresAt: number;
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

function refuseUpgrade(
  res: HttpResponse,
  status: '400 Bad Request' | '401 Unauthorized' | '403 Forbidden' | '503 Service Unavailable',
  code: string,
  message: string,
  span?: Span,
): void {
  if (span) endUpgradeSpan(span, Number.parseInt(status, 10), code);
  res.cork(() => {
    res.writeStatus(status).writeHeader('Content-Type', 'application/json');
    for (const [k, v] of SECURITY_HEADERS) res.writeHeader(k, v);
    res.end(JSON.stringify({ error: { code, message } }));
  });
}

function endUpgradeSpan(span: Span, status: number, code?: string): void {
  if (span.isRecording()) span.setAttribute(ATTR.upgradeStatus, status);
  if (code) span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  span.end();
}

export function registerWebSocket(app: TemplatedApp, d: WsDeps): void {
  const t = d.telemetry ?? Telemetry.off();
  const originAllowed = (origin: string) => {
    if (origin === '') return true;
    const allowed = d.allowedOrigins();
    return allowed.includes('*') || allowed.includes(origin);
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
      // RFC 6455 asks for `Connection: Upgrade`; with `close` uWS tears the accepted socket down.
      if (!connection.includes('upgrade') || /\bclose\b/.test(connection))
        return refuseUpgrade(res, '400 Bad Request', 'bad_request', 'a WebSocket upgrade needs "Connection: Upgrade"', span);
      if (!originAllowed(origin)) return refuseUpgrade(res, '403 Forbidden', 'forbidden', 'origin not allowed', span);
      if (!d.accepting()) return refuseUpgrade(res, '503 Service Unavailable', 'unavailable', 'the server is shutting down', span);
      if (!cred) return refuseUpgrade(res, '401 Unauthorized', 'unauthorized', 'a token or ticket is required', span);
      const offered = protocols.split(',').map((p) => p.trim());
      // Answer with our protocol only; the token offered beside it is never echoed.
      const chosen = offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : '';
      void (async () => {
        let user: { userId: string; expiresAt: number } | undefined;
        const auth = t.tracer.startSpan(SPAN.auth, t.tracing ? { attributes: { [ATTR.authKind]: cred.kind } } : {}, trace.setSpan(ROOT_CONTEXT, span));
        try {
          if (cred.kind === 'token') {
            const u = await d.auth.authenticate(cred.value);
            if (u) user = { userId: u.userId, expiresAt: u.expiresAt.getTime() };
          } else {
            const userId = await d.auth.redeemTicket(cred.value);
            // A ticket admits the socket; the socket then lives like a fresh token would.
            if (userId) user = { userId, expiresAt: Number.POSITIVE_INFINITY };
          }
        } catch (err) {
          auth.setStatus({ code: SpanStatusCode.ERROR, message: 'unavailable' });
          auth.end();
          d.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'upgrade authentication failed');
          if (!aborted) refuseUpgrade(res, '503 Service Unavailable', 'unavailable', 'try again later', span);
          else span.end();
          return;
        }
        if (auth.isRecording()) auth.setAttribute(ATTR.authResult, user ? 'ok' : 'refused');
        auth.end();
        if (aborted) {
          span.end();
          return;
        }
        if (!user) return refuseUpgrade(res, '401 Unauthorized', 'unauthorized', 'invalid token or ticket', span);
        // The server may have begun shutting down while the credential was checked.
        if (!d.accepting()) return refuseUpgrade(res, '503 Service Unavailable', 'unavailable', 'the server is shutting down', span);
        const data: SocketData = { userId: user.userId, socketId: randomUUID(), expiresAt: user.expiresAt };
        // Deliberately not inside res.cork(): in this uWS build, cork() after an asynchronous
        // upgrade can misread the upgraded socket's memory as HTTP state and close it right after
        // `open` (uNetworking/uWebSockets#1928, fixed upstream by #1929). uWS prints a warning
        // about the missing cork on stderr; a dropped socket would be worse.
        if (span.isRecording()) span.setAttributes({ [ATTR.userId]: data.userId, [ATTR.socketId]: data.socketId });
        endUpgradeSpan(span, 101);
        res.upgrade(data, key, chosen, extensions, context);
      })();
    },

    open: (ws) => {
      const data = ws.getUserData();
      d.log.debug({ userId: data.userId, socketId: data.socketId }, 'socket opened');
      const sink = new UwsSink(data.socketId, ws);
      data.sink = sink;
      const channel = d.hub.open(data.userId, sink);
      data.channel = channel;
      data.pending = 0;
      data.queue = new Promise<void>((resolve) => (data.ready = resolve));
      if (Number.isFinite(data.expiresAt)) {
        // Timers over 2^31-1 ms fire at once; tokens live at most a week, well under that.
        const ms = Math.max(0, Math.min(data.expiresAt - Date.now(), 2 ** 31 - 1));
        data.expiryTimer = setTimeout(() => sink.close(CLOSE_TOKEN_EXPIRED, 'token expired; reconnect with a new one'), ms);
      }
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
          d.log.error({ err: err instanceof Error ? err.message : String(err) }, 'session snapshot failed');
          sink.close(1011, 'internal error; reconnect');
        });
    },

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
      data.pending = (data.pending ?? 0) + 1;
      data.queue = (data.queue ?? Promise.resolve())
        .then(async () => {
          if (channel.closed) return;
          if (decoded.ok) return d.frames.handle(channel, decoded.frame);
          channel.sink.send(
            JSON.stringify({
              type: 'error',
              code: 'bad_request',
              message: decoded.message,
              ...(decoded.requestId !== undefined ? { requestId: decoded.requestId } : {}),
              ...(decoded.runId !== undefined ? { runId: decoded.runId } : {}),
            }),
          );
        })
        .catch((err: unknown) => d.log.error({ err: err instanceof Error ? err.message : String(err) }, 'frame handling failed'))
        .finally(() => {
          data.pending = (data.pending ?? 1) - 1;
        });
    },

    drain: (ws) => {
      const data = ws.getUserData();
      if (data.channel && data.sink && data.sink.buffered < 64 * 1024) data.channel.resumeAfterDrain();
    },

    close: (ws, code) => {
      const data = ws.getUserData();
      d.log.debug({ userId: data.userId, socketId: data.socketId, code }, 'socket closed');
      if (data.sink) data.sink.closed = true;
      if (data.expiryTimer) clearTimeout(data.expiryTimer);
      if (data.channel) d.hub.close(data.channel);
    },
  });
}
