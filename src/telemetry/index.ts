// Telemetry of one runtime: its tracer (no-op unless configured) and its Prometheus metrics.
// Parts receive this object from the composition root; nothing here reads the environment.
import { ProxyTracerProvider, type Tracer } from '@opentelemetry/api';
import { isTerminal, type RunEvent } from '../protocol/events.js';
import { Registry } from './metrics.js';
import { TRACER_NAME, type Tracing } from './tracing.js';

export { ATTR, SPAN } from './attributes.js';
export { fromTraceparent, toTraceparent, withRemoteParent } from './propagation.js';

export class Telemetry {
  readonly tracer: Tracer;
  /** True when spans are recorded and exported: guards work done only for attributes. */
  readonly tracing: boolean;
  readonly recordContent: boolean;
  readonly registry = new Registry();

  readonly runsAccepted = this.registry.counter('agentwire_runs_accepted_total', 'Agent requests accepted as new runs on this node.');
  readonly runsStarted = this.registry.counter('agentwire_runs_started_total', 'Runs whose agent_started this node stored.');
  readonly runsCompleted = this.registry.counter('agentwire_runs_completed_total', 'Runs this node ended with agent_completed.');
  readonly runsFailed = this.registry.counter('agentwire_runs_failed_total', 'Runs this node ended with agent_error.');
  readonly runsCancelled = this.registry.counter('agentwire_runs_cancelled_total', 'Runs this node ended with agent_cancelled.');
  /** Runs this node ended, by terminal type: prom-client's counters are read asynchronously, the ratio below is not. */
  private readonly ended = { completed: 0, failed: 0, cancelled: 0 };
  readonly goldenPath = this.registry.gauge(
    'agentwire_golden_path_ratio',
    'Runs ended with agent_completed over all runs this node ended (NaN before the first).',
    () => {
      const { completed, failed, cancelled } = this.ended;
      const all = completed + failed + cancelled;
      return all === 0 ? Number.NaN : completed / all;
    },
  );
  readonly startLatency = this.registry.histogram('agentwire_run_start_seconds', 'From accepting a request to storing its agent_started.');
  readonly runLatency = this.registry.histogram('agentwire_run_terminal_seconds', 'From accepting a request to storing its terminal event.');
  readonly queueWait = this.registry.histogram('agentwire_queue_wait_seconds', 'From queueing a run to a worker claiming it (first claims only).');
  readonly sendDelay = this.registry.histogram('agentwire_event_send_delay_seconds', 'From storing an event to handing it to a socket.');
  readonly ackDelay = this.registry.histogram('agentwire_event_ack_delay_seconds', 'From storing an event to the ack that covers it (events this node sent).');
  readonly resumes = this.registry.counter('agentwire_resumes_total', 'Runs named in resume frames and accepted.');
  readonly backpressureCloses = this.registry.counter('agentwire_sockets_closed_backpressure_total', 'Sockets closed because they could not keep up (1013).');

  constructor(tracing: Pick<Tracing, 'enabled' | 'tracer' | 'recordContent'>) {
    this.tracer = tracing.tracer;
    this.tracing = tracing.enabled;
    this.recordContent = tracing.recordContent;
  }

  /** Tracing off, fresh metrics: the default of parts built without a runtime (unit tests). */
  static off(): Telemetry {
    return new Telemetry({ enabled: false, tracer: new ProxyTracerProvider().getTracer(TRACER_NAME), recordContent: false });
  }

  /** An event was stored; `acceptedAt` is when its run was accepted (ms since the epoch). */
  eventStored(event: RunEvent, acceptedAt: number): void {
    if (event.type === 'agent_started') {
      this.runsStarted.inc();
      this.startLatency.observe((Date.parse(event.ts) - acceptedAt) / 1000);
      return;
    }
    if (!isTerminal(event.type)) return;
    this.runLatency.observe((Date.parse(event.ts) - acceptedAt) / 1000);
    if (event.type === 'agent_completed') {
      this.ended.completed++;
      this.runsCompleted.inc();
    } else if (event.type === 'agent_error') {
      this.ended.failed++;
      this.runsFailed.inc();
    } else {
      this.ended.cancelled++;
      this.runsCancelled.inc();
    }
  }
}
