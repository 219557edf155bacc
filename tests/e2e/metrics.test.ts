// /metrics after known traffic: the scrape is parsed as Prometheus text (every sample belongs to
// a declared family, every value is a number) and its counters match what the test did.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agents/types.js';
import { primaryBackend } from '../helpers/backends.js';
import { Gates, scriptedAgent } from '../helpers/agents.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const failing: Agent = {
  name: 'failing',
  description: 'Test agent: fails at once.',
  async run() {
    throw new Error('boom');
  },
};

type Scrape = Map<string, number>;

/** Parses the text exposition format strictly enough to catch a malformed line. */
function parse(text: string): Scrape {
  const families = new Map<string, string>();
  const samples: Scrape = new Map();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.trimEnd().split('\n')) {
    // The format ignores empty lines (prom-client puts one between families).
    if (line === '') continue;
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (help) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      expect(families.has(type[1]!), `${type[1]} declared twice`).toBe(false);
      families.set(type[1]!, type[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    expect(sample, `malformed line: ${line}`).not.toBeNull();
    const [, name, labels = '', value] = sample!;
    const family = families.has(name!) ? name! : name!.replace(/_(bucket|sum|count)$/, '');
    expect(families.get(family), `${name} has no # TYPE`).toBeDefined();
    if (families.get(family) === 'counter') expect(Number(value)).toBeGreaterThanOrEqual(0);
    samples.set(`${name}${labels}`, Number(value));
  }
  return samples;
}

describe('/metrics', () => {
  const gates = new Gates();
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(primaryBackend, { agents: [scriptedAgent, failing, gates.agent()] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const scrape = async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return parse(await res.text());
  };

  it('counts runs, their outcomes, latencies, deliveries, acks and resumes after known traffic', async () => {
    const before = await scrape();
    expect(before.get('agentwire_runs_started_total')).toBe(0);
    expect(Number.isNaN(before.get('agentwire_golden_path_ratio'))).toBe(true);

    const alice = await server.register();
    const tab1 = await server.connect(alice.token);
    await tab1.waitType('session_ready');

    // Two golden paths, one failure, one cancel.
    const done: string[] = [];
    for (const text of ['one', 'two']) {
      const acc = await tab1.request(text, { agent: 'scripted' });
      expect((await tab1.runEvents(acc.runId as string)).at(-1)?.type).toBe('agent_completed');
      done.push(acc.runId as string);
    }
    const failed = await tab1.request('x', { agent: 'failing' });
    expect((await tab1.runEvents(failed.runId as string)).at(-1)?.type).toBe('agent_error');
    const held = gates.reached('hold');
    const gated = await tab1.request('hold', { agent: 'gated' });
    await held;
    tab1.send({ type: 'cancel_run', runId: gated.runId });
    expect((await tab1.runEvents(gated.runId as string)).at(-1)?.type).toBe('agent_cancelled');

    // One ack of an event this socket was sent; a second tab resumes the first run from the start.
    const first = tab1.eventsOf(done[0]!);
    tab1.send({ type: 'ack', runId: done[0], seq: first.length });
    const tab2 = await server.connect(alice.token);
    await tab2.waitType('session_ready');
    tab2.send({ type: 'resume', runs: [{ runId: done[0], afterSeq: 0 }] });
    await tab2.runEvents(done[0]!);
    const sent = tab1.frames.filter((f) => typeof f.seq === 'number').length + tab2.frames.filter((f) => typeof f.seq === 'number').length;

    // The worker counts an attempt once the job is settled, just after the terminal was sent;
    // the ack is handled after the frames before it.
    const m = await until(async () => {
      const s = await scrape();
      return s.get('agentwire_run_attempts_total{outcome="cancelled"}') === 1 && s.get('agentwire_event_ack_delay_seconds_count') === 1 && s;
    }, 'the attempts and the ack to be counted');

    expect(m.get('agentwire_runs_accepted_total')).toBe(4);
    expect(m.get('agentwire_runs_started_total')).toBe(4);
    expect(m.get('agentwire_runs_completed_total')).toBe(2);
    expect(m.get('agentwire_runs_failed_total')).toBe(1);
    expect(m.get('agentwire_runs_cancelled_total')).toBe(1);
    expect(m.get('agentwire_golden_path_ratio')).toBe(0.5);
    expect(m.get('agentwire_run_attempts_total{outcome="completed"}')).toBe(2);
    expect(m.get('agentwire_run_attempts_total{outcome="failed"}')).toBe(1);
    expect(m.get('agentwire_run_start_seconds_count')).toBe(4);
    expect(m.get('agentwire_run_terminal_seconds_count')).toBe(4);
    expect(m.get('agentwire_queue_wait_seconds_count')).toBe(4);
    expect(m.get('agentwire_event_send_delay_seconds_count')).toBe(sent);
    expect(m.get('agentwire_event_ack_delay_seconds_count')).toBe(1);
    expect(m.get('agentwire_resumes_total')).toBe(1);
    expect(m.get('agentwire_statechart_rejections_total')).toBe(0);
    expect(m.get('agentwire_sockets_closed_backpressure_total')).toBe(0);
    expect(m.get('agentwire_open_sockets')).toBe(2);
    expect(m.get('agentwire_sessions')).toBe(1);
    // The event loop's delay since the previous scrape: three figures, none negative, p99 ≤ max.
    const lag = ['p50', 'p99', 'max'].map((stat) => m.get(`agentwire_event_loop_lag_seconds{stat="${stat}"}`)!);
    expect(lag.every((v) => v >= 0)).toBe(true);
    expect(lag[1]).toBeLessThanOrEqual(lag[2]!);
    // Histograms: cumulative buckets ending in +Inf = count, and a sum within count × the largest.
    for (const h of ['agentwire_run_start_seconds', 'agentwire_run_terminal_seconds', 'agentwire_event_send_delay_seconds']) {
      const buckets = [...m.entries()].filter(([k]) => k.startsWith(`${h}_bucket`)).map(([, v]) => v);
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
      expect(m.get(`${h}_bucket{le="+Inf"}`)).toBe(m.get(`${h}_count`));
      expect(m.get(`${h}_sum`)).toBeGreaterThanOrEqual(0);
    }
    // Latencies are plausible: every run started within the test's own duration.
    expect(m.get('agentwire_run_start_seconds_bucket{le="30"}')).toBe(4);
    // prom-client's default process and event-loop metrics beside agentwire's own.
    expect(m.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.get('nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
  });
});
