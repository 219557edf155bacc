// Trace context across the durable boundary: the accepting request's span context is stored with
// the run as a W3C `traceparent` string, and the worker (first attempt or a takeover) continues
// that trace from it.
import { trace, TraceFlags, type Context, type Span, type SpanContext } from '@opentelemetry/api';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span's context as a `traceparent`, or null when there is nothing worth carrying. */
export function toTraceparent(span: Span | undefined): string | null {
  if (!span) return null;
  const c = span.spanContext();
  if (!trace.isSpanContextValid(c)) return null;
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** A remote span context from a stored `traceparent`; undefined when absent or malformed. */
export function fromTraceparent(value: string | null | undefined): SpanContext | undefined {
  if (!value) return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m) return undefined;
  const c: SpanContext = { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16) & TraceFlags.SAMPLED, isRemote: true };
  return trace.isSpanContextValid(c) ? c : undefined;
}

/** `parent` with `remote` as its span (a context to start child spans in). */
export function withRemoteParent(parent: Context, remote: SpanContext | undefined): Context {
  return remote ? trace.setSpanContext(parent, remote) : parent;
}
