// agentwire's Prometheus metrics on prom-client: one registry per runtime (never prom-client's
// global one, so several runtimes in one process, or an embedder's own metrics, never collide),
// rendered in the text exposition format by prom-client.
import client from 'prom-client';

type Labels = Readonly<Record<string, string>>;
type Read = () => number | ReadonlyArray<{ labels: Labels; value: number }>;

/** Seconds. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** A histogram that ignores a non-finite value and counts a negative one (clock skew) as 0. */
export class Histogram {
  private readonly h: client.Histogram;

  constructor(registry: client.Registry, name: string, help: string, buckets: readonly number[] = LATENCY_BUCKETS) {
    this.h = new client.Histogram({ name, help, buckets: [...buckets], registers: [registry] });
  }

  observe(value: number): void {
    if (Number.isFinite(value)) this.h.observe(Math.max(0, value));
  }
}

/** Replaces a metric's samples with what `read` gives (at scrape time). */
function setFrom(reset: () => void, read: Read, put: (labels: Labels | undefined, v: number) => void): void {
  const v = read();
  reset();
  if (typeof v === 'number') put(undefined, v);
  else for (const s of v) put(s.labels, s.value);
}

export class Registry {
  readonly prom = new client.Registry();

  /** prom-client refuses a label it was not told of at creation, so a labelled counter names them here. */
  counter(name: string, help: string, labelNames: readonly string[] = []): client.Counter {
    return new client.Counter({ name, help, labelNames, registers: [this.prom] });
  }

  /** A gauge whose samples are read when scraped. */
  gauge(name: string, help: string, read: Read, labelNames: readonly string[] = []): client.Gauge {
    return new client.Gauge({
      name,
      help,
      labelNames,
      registers: [this.prom],
      collect() {
        setFrom(() => this.reset(), read, (labels, v) => (labels ? this.set(labels, v) : this.set(v)));
      },
    });
  }

  /** A counter whose value another part keeps, read when scraped. */
  counterFrom(name: string, help: string, read: Read, labelNames: readonly string[] = []): client.Counter {
    return new client.Counter({
      name,
      help,
      labelNames,
      registers: [this.prom],
      collect() {
        setFrom(() => this.reset(), read, (labels, v) => (labels ? this.inc(labels, v) : this.inc(v)));
      },
    });
  }

  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return new Histogram(this.prom, name, help, buckets);
  }

  /** prom-client's default metrics (process CPU, memory, handles, GC, event-loop lag), unprefixed as everywhere. */
  defaults(): void {
    client.collectDefaultMetrics({ register: this.prom });
  }

  /** prom-client 15 writes NaN as `Nan`; the exposition format spells it `NaN` (strict parsers want that). */
  async render(): Promise<string> {
    return (await this.prom.metrics()).replace(/ Nan$/gm, ' NaN');
  }

  get contentType(): string {
    return this.prom.contentType;
  }
}
