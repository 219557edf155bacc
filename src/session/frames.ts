// What each client frame does (PROTOCOL section 3). Refusals are `error` frames; the socket stays open.
import type { ClientFrame } from '../protocol/frames.js';
import { AppError, errorFrame, toAppError } from '../protocol/errors.js';
import type { ErrorFrame } from '../protocol/events.js';
import type { RunService } from '../runs/service.js';
import type { FeedbackService } from '../runs/feedback.js';
import type { Logger } from '../log/logger.js';
import type { SocketChannel } from './cursor.js';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ATTR, SPAN, Telemetry, toTraceparent } from '../telemetry/index.js';
import { RateLimiter } from '../limits/rate-limit.js';

export interface FrameHandlerDeps {
  runs: RunService;
  feedback?: FeedbackService;
  log: Logger;
  requestsPerMinute: number;
  accepting(): boolean;
  telemetry?: Telemetry;
}

export class FrameHandler {
  /** Agent requests per user; the SSE front-ends take from the same buckets (docs/front-ends.md). */
  readonly requests: RateLimiter;
  private readonly t: Telemetry;

  constructor(private readonly d: FrameHandlerDeps) {
    this.requests = new RateLimiter(d.requestsPerMinute, 60_000);
    this.t = d.telemetry ?? Telemetry.off();
  }

  async handle(channel: SocketChannel, frame: ClientFrame): Promise<void> {
    const { userId } = channel;
    try {
      switch (frame.type) {
        case 'ping':
          send(channel, frame.id === undefined ? { type: 'pong' } : { type: 'pong', id: frame.id });
          return;
        case 'agent_request': {
          if (!this.d.accepting()) throw new AppError('unavailable', 'the server is shutting down; reconnect and retry');
          const wait = this.requests.take(userId);
          if (wait > 0) throw new AppError('rate_limited', 'too many requests', { retryAfterMs: wait });
          const accepted = await this.accept(channel, frame);
          send(channel, { type: 'run_accepted', requestId: frame.requestId, ...accepted });
          // After run_accepted, which comes before any event of the run. A new run is carried
          // already (adopted when accepted); a repeated requestId names an existing run, which
          // this socket may not carry: a retry must not wait for nothing.
          channel.carry(accepted.runId);
          return;
        }
        case 'resume':
          for (const r of frame.runs) {
            try {
              const run = await this.d.runs.ownRun(userId, r.runId);
              if (r.afterSeq > run.last_seq) throw new AppError('bad_request', `afterSeq ${r.afterSeq} is beyond the run's last event (${run.last_seq})`);
              channel.resume(run.id, r.afterSeq);
              this.t.resumes.inc();
            } catch (err) {
              this.refuse(channel, err, { runId: r.runId });
            }
          }
          return;
        case 'ack':
          await this.d.runs.ack(userId, frame.runId, frame.seq);
          {
            const storedAt = channel.takeSentAt(frame.runId, frame.seq);
            if (storedAt !== undefined) this.t.ackDelay.observe((Date.now() - storedAt) / 1000);
          }
          return;
        case 'provide_input':
          // No answer when it is stored: the run's `input_received` event is the acknowledgement.
          await this.d.runs.provideInput(userId, frame);
          return;
        case 'feedback':
          if (!this.d.feedback) throw new AppError('unavailable', 'feedback is not taken here');
          // No answer when it is stored, like `ack`.
          await this.d.feedback.rate(userId, frame.runId, { rating: frame.rating, ...(frame.comment !== undefined ? { comment: frame.comment } : {}) });
          return;
        case 'cancel_run': {
          const terminal = await this.d.runs.cancel(userId, frame.runId);
          // A finished run: answer with its terminal event, unless this socket is still delivering
          // the run (then the terminal comes in order, once) or has sent it already (a resume just
          // delivered it; found by the crash sweep: the client got it twice).
          if (terminal && !channel.delivers(terminal.event.runId) && !channel.closed) channel.sink.send(terminal.json);
          return;
        }
      }
    } catch (err) {
      this.refuse(channel, err, {
        ...('requestId' in frame ? { requestId: frame.requestId } : {}),
        ...('runId' in frame ? { runId: frame.runId } : {}),
      });
    }
  }

  /** Accepting a request is the root of the run's trace; the worker continues it from the stored context. */
  private async accept(channel: SocketChannel, frame: Extract<ClientFrame, { type: 'agent_request' }>) {
    const t = this.t;
    const span = t.tracer.startSpan(
      SPAN.request,
      t.tracing
        ? {
            kind: SpanKind.SERVER,
            attributes: {
              [ATTR.userId]: channel.userId,
              [ATTR.socketId]: channel.sink.id,
              [ATTR.requestId]: frame.requestId,
              ...(frame.agent !== undefined ? { [ATTR.agent]: frame.agent } : {}),
              [ATTR.onBusy]: frame.onBusy ?? 'reject',
              ...(t.recordContent ? { [ATTR.inputText]: frame.input.text } : {}),
            },
          }
        : {},
      context.active(),
    );
    try {
      const accepted = await context.with(trace.setSpan(context.active(), span), () => this.d.runs.accept(channel.userId, frame, toTraceparent(span)));
      if (span.isRecording()) span.setAttributes({ [ATTR.runId]: accepted.runId, [ATTR.threadId]: accepted.threadId });
      return accepted;
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: toAppError(err).code });
      if (span.isRecording()) span.setAttribute(ATTR.errorCode, toAppError(err).code);
      throw err;
    } finally {
      span.end();
    }
  }

  refuse(channel: SocketChannel, err: unknown, ids: { requestId?: string; runId?: string }): void {
    const e = toAppError(err);
    if (e.code === 'internal') this.d.log.error({ err: e, userId: channel.userId, ...ids }, 'frame failed');
    send(channel, errorFrame(e, ids));
  }
}

function send(channel: SocketChannel, frame: ErrorFrame | { type: string; [k: string]: unknown }): void {
  if (!channel.closed) channel.sink.send(JSON.stringify(frame));
}
