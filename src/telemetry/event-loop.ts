// The event loop's delay, for /metrics: a loop that a hot retry or a long synchronous task starves
// shows here first. Node samples it with a timer every RESOLUTION_MS; a sample is how late that
// timer fired, so the resolution itself is taken off. Read and reset at each scrape. Kept beside
// prom-client's `nodejs_eventloop_lag_*` (which never resets): this one is the lag since the last scrape.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Registry } from './metrics.js';

const RESOLUTION_MS = 10;

export class EventLoopLag {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });

  constructor(registry: Registry) {
    this.histogram.enable();
    registry.gauge('agentwire_event_loop_lag_seconds', 'How late the event loop ran a timer, since the previous scrape (p50, p99, max).', () => this.read(), ['stat']);
  }

  private read(): Array<{ labels: { stat: string }; value: number }> {
    const h = this.histogram;
    const lag = (ns: number) => (h.count === 0 ? 0 : Math.max(0, ns / 1e6 - RESOLUTION_MS) / 1000);
    const samples = [
      { labels: { stat: 'p50' }, value: lag(h.percentile(50)) },
      { labels: { stat: 'p99' }, value: lag(h.percentile(99)) },
      { labels: { stat: 'max' }, value: lag(h.max) },
    ];
    h.reset();
    return samples;
  }

  stop(): void {
    this.histogram.disable();
  }
}
