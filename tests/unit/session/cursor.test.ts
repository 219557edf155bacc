// SocketChannel: per-socket, per-run delivery. Live events are hints, the log is the truth.
import { afterEach, describe, it, expect, vi } from 'vitest';
import {
  RETRY_MAX_MS,
  SocketChannel,
  type ChannelHooks,
  type EventReader,
  type SendResult,
  type SocketSink,
} from '../../../src/session/cursor.js';
import type { StoredEvent } from '../../../src/store/event-log.js';
import type { RunEvent } from '../../../src/protocol/events.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const TS = '2025-01-01T00:00:00.000Z';

function ev(runId: string, seq: number, last = 0): StoredEvent {
  const base = { runId, threadId: `t-${runId}`, seq, ts: TS };
  const event: RunEvent =
    seq === 1
      ? { ...base, type: 'agent_started', agent: 'echo', input: { text: 'hi' } }
      : seq === last
        ? { ...base, type: 'agent_completed', text: 'done', durationMs: 1 }
        : { ...base, type: 'agent_thinking', text: `step ${seq}` };
  return { event, json: JSON.stringify(event) };
}

/** A run of `n` events: started, thinking…, completed. */
const run = (runId: string, n: number) => Array.from({ length: n }, (_, i) => ev(runId, i + 1, n));

class Log implements EventReader {
  readonly runs = new Map<string, StoredEvent[]>();
  /** Reads waiting for `release` (manual mode), or answered at once. */
  readonly pending: Array<{ runId: string; afterSeq: number; resolve: () => void }> = [];
  reads = 0;

  /**
   * `at-call`: the query sees the log as it is when called, its answer waits for `release`;
   * `at-release`: the query runs when released. Without a mode, reads answer at once.
   */
  constructor(private readonly manual?: 'at-call' | 'at-release') {}

  append(e: StoredEvent): StoredEvent {
    const list = this.runs.get(e.event.runId) ?? [];
    list.push(e);
    this.runs.set(e.event.runId, list);
    return e;
  }

  read(runId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    this.reads++;
    const slice = () => (this.runs.get(runId) ?? []).filter((e) => e.event.seq > afterSeq).slice(0, limit);
    if (!this.manual) return Promise.resolve(slice());
    const early = this.manual === 'at-call' ? slice() : undefined;
    return new Promise((resolve) => this.pending.push({ runId, afterSeq, resolve: () => resolve(early ?? slice()) }));
  }

  /** Answers the oldest pending read (with what the log holds now). */
  async releaseOne(): Promise<void> {
    const r = this.pending.shift();
    expect(r, 'a read is pending').toBeDefined();
    r!.resolve();
    await flush();
  }

  async releaseAll(): Promise<void> {
    while (this.pending.length > 0) await this.releaseOne();
  }
}

class Sink implements SocketSink {
  readonly id = 'sock-1';
  readonly sent: string[] = [];
  /** Results to return for the next sends, then `mode`. */
  readonly script: SendResult[] = [];
  mode: SendResult = 'ok';
  closed?: { code: number; reason: string };

  send(text: string): SendResult {
    const r = this.script.shift() ?? this.mode;
    if (r !== 'dropped') this.sent.push(text);
    return r;
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }

  /** `runId#seq` of every run event sent. */
  get seqs(): string[] {
    return this.sent.map((t) => JSON.parse(t) as RunEvent).map((e) => `${e.runId}#${e.seq}`);
  }
}

function setup(opts: { manual?: 'at-call' | 'at-release'; ready?: boolean } = {}) {
  const log = new Log(opts.manual);
  const sink = new Sink();
  const calls = { terminal: [] as string[], dropped: 0, errors: [] as unknown[] };
  const hooks: ChannelHooks = {
    onTerminal: (_c, runId) => calls.terminal.push(runId),
    onDropped: () => calls.dropped++,
    onError: (err) => calls.errors.push(err),
  };
  const channel = new SocketChannel('user-1', sink, log, hooks);
  if (opts.ready !== false) channel.markReady();
  /** Store, then offer (like the runtime). */
  const publish = (e: StoredEvent) => channel.offer(log.append(e));
  return { log, sink, channel, calls, publish };
}

const seqs = (runId: string, ...n: number[]) => n.map((s) => `${runId}#${s}`);

describe('SocketChannel', () => {
  it('carries a run it sees start, in order, straight from the live events', async () => {
    const { sink, publish, log } = setup();
    for (const e of run('r1', 4)) publish(e);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3, 4));
    expect(log.reads).toBe(0); // nothing to repair
  });

  it('repairs a gap from the log: a missed hint is read back, in order', async () => {
    const { sink, publish, log, channel } = setup();
    const [e1, e2, e3, e4] = run('r1', 4);
    publish(e1!);
    log.append(e2!); // stored, but its hint never arrives
    publish(e3!);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3));
    expect(log.reads).toBeGreaterThan(0);
    publish(e4!);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3, 4));
    expect(channel.cursors.has('r1')).toBe(false);
  });

  it('ignores duplicate and late hints', async () => {
    const { sink, publish, channel } = setup();
    const [e1, e2, e3] = run('r1', 4);
    publish(e1!);
    publish(e2!);
    channel.offer(e1!);
    channel.offer(e2!);
    publish(e3!);
    channel.offer(e2!);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3));
  });

  it('does not carry a run it did not see start (its first hint has seq > 1)', async () => {
    const { sink, log, channel } = setup();
    const [e1, e2] = run('r1', 3);
    log.append(e1!);
    channel.offer(log.append(e2!));
    await flush();
    expect(sink.sent).toEqual([]);
    expect(channel.cursors.size).toBe(0);
  });

  it('a listed run is not carried until it is resumed, then from afterSeq + 1 and live', async () => {
    const { sink, log, channel, publish } = setup({ ready: false });
    const [e1, e2, e3, e4, e5] = run('r1', 5);
    log.append(e1!);
    log.append(e2!);
    channel.listed.add('r1');
    channel.markReady();
    // Even its first event, offered late, does not make the socket carry it.
    channel.offer(e1!);
    publish(e3!);
    await flush();
    expect(sink.sent).toEqual([]);

    channel.resume('r1', 1);
    expect(channel.listed.has('r1')).toBe(false);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 2, 3));
    publish(e4!);
    publish(e5!);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 2, 3, 4, 5));
  });

  it('holds events until markReady, then sends them from the log', async () => {
    const { sink, channel, publish } = setup({ ready: false });
    for (const e of run('r1', 3)) publish(e);
    await flush();
    expect(sink.sent).toEqual([]);
    channel.markReady();
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3));
  });

  it('a dropped send does not advance the cursor; after the drain the log supplies it', async () => {
    const { sink, channel, publish, calls } = setup();
    const [e1, e2, e3, e4] = run('r1', 4);
    publish(e1!);
    sink.script.push('dropped');
    publish(e2!);
    expect(calls.dropped).toBe(1);
    expect(channel.paused).toBe(true);
    expect(channel.cursors.get('r1')?.delivered).toBe(1);
    publish(e3!); // while paused: stored, remembered, not sent
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1));

    channel.resumeAfterDrain();
    await flush();
    expect(channel.paused).toBe(false);
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3));
    publish(e4!);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3, 4));
  });

  it('backpressure: the frame is sent and counted, then the socket pauses until drained', async () => {
    const { sink, channel, publish } = setup();
    const [e1, e2, e3] = run('r1', 3);
    sink.script.push('backpressure');
    publish(e1!);
    expect(channel.paused).toBe(true);
    expect(channel.cursors.get('r1')?.delivered).toBe(1);
    publish(e2!);
    publish(e3!);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1));
    channel.resumeAfterDrain();
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3));
  });

  it('the terminal event frees the cursor and reports it', async () => {
    const { channel, publish, calls } = setup();
    const events = run('r1', 3);
    publish(events[0]!);
    publish(events[1]!);
    expect(channel.cursors.has('r1')).toBe(true);
    publish(events[2]!);
    expect(channel.cursors.has('r1')).toBe(false);
    expect(calls.terminal).toEqual(['r1']);
  });

  it('runs are independent: a gap in one does not hold back another', async () => {
    const { sink, log, publish } = setup({ manual: 'at-release' });
    const a = run('a', 3);
    const b = run('b', 3);
    publish(a[0]!);
    publish(b[0]!);
    log.append(a[1]!); // a#2 missed
    publish(a[2]!); // a needs the log (read pending)
    publish(b[1]!);
    publish(b[2]!);
    expect(sink.seqs).toEqual(['a#1', 'b#1', 'b#2', 'b#3']);
    await log.releaseAll();
    expect(sink.seqs).toEqual(['a#1', 'b#1', 'b#2', 'b#3', 'a#2', 'a#3']);
  });

  it('sends nothing after it is closed', async () => {
    const { sink, channel, publish } = setup();
    const [e1, e2] = run('r1', 3);
    publish(e1!);
    channel.closed = true;
    publish(e2!);
    channel.resume('r1', 0);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1));
  });

  it('carry (a retried request): a run not carried from seq 1, a listed one too, a carried one from where it is, a finished one not again', async () => {
    const { sink, log, channel, publish } = setup({ ready: false });
    const [l1, l2, l3] = run('listed', 3);
    log.append(l1!);
    log.append(l2!);
    channel.listed.add('listed');
    channel.markReady();
    for (const e of run('finished', 2)) publish(e);
    const [c1, c2, c3] = run('carried', 3);
    publish(c1!);
    publish(c2!);
    for (const e of run('other', 2)) log.append(e); // finished before this socket opened
    await flush();
    sink.sent.length = 0;

    for (const runId of ['listed', 'finished', 'carried', 'other']) channel.carry(runId);
    await flush();
    expect(channel.listed.has('listed')).toBe(false);
    publish(l3!);
    publish(c3!);
    await flush();
    expect(sink.seqs.filter((s) => s.startsWith('listed#'))).toEqual(seqs('listed', 1, 2, 3));
    expect(sink.seqs.filter((s) => s.startsWith('carried#'))).toEqual(seqs('carried', 3));
    expect(sink.seqs.filter((s) => s.startsWith('other#'))).toEqual(seqs('other', 1, 2));
    expect(sink.seqs.filter((s) => s.startsWith('finished#'))).toEqual([]);
  });

  // --- regressions found by tests/property/delivery-model.test.ts --------------------------------

  it('a repeated seq 1 hint after the terminal does not deliver the run a second time', async () => {
    const { sink, channel, publish } = setup();
    const events = run('r1', 2);
    for (const e of events) publish(e);
    channel.offer(events[0]!);
    channel.offer(events[1]!);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1, 2));
    expect(channel.cursors.has('r1')).toBe(false);
  });

  it('resume to an earlier seq while a log read is in flight still delivers everything after it', async () => {
    const { sink, log, channel } = setup({ manual: 'at-release' });
    for (const e of run('r1', 4)) log.append(e);
    channel.resume('r1', 0); // read > 0 in flight
    channel.resume('r1', 4); // the client says it has everything…
    await log.releaseOne(); // …the first read answers (nothing after 4 is sent)
    channel.resume('r1', 0); // …then asks for everything again while the read > 4 is in flight
    await log.releaseAll();
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3, 4));
  });

  it('resume of a finished run on a slow socket: after the drain it gets the rest', async () => {
    const { sink, log, channel } = setup();
    for (const e of run('r1', 3)) log.append(e);
    sink.mode = 'backpressure';
    channel.resume('r1', 0);
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1));
    sink.mode = 'ok';
    channel.resumeAfterDrain();
    await flush();
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3));
  });

  it('a live hint that arrives while a resume reads the log is not mistaken for the resume guess', async () => {
    const { sink, log, channel, publish } = setup({ manual: 'at-call' });
    const [e1, e2] = run('r1', 2);
    log.append(e1!);
    channel.resume('r1', 1); // guesses that #2 may exist; the read > 1 sees nothing yet
    publish(e2!); // #2 is stored and announced while that read is in flight
    await log.releaseAll();
    expect(sink.seqs).toEqual(seqs('r1', 2));
  });

  it('a pause caused by another run during a read does not make the pump think it is caught up', async () => {
    const { sink, log, channel, publish } = setup({ manual: 'at-release' });
    const a = run('a', 4);
    const b = run('b', 3);
    publish(a[0]!);
    publish(b[0]!);
    sink.mode = 'backpressure';
    publish(a[1]!); // sent, socket pauses
    publish(a[2]!); // stored, known, held
    publish(a[3]!);
    sink.mode = 'ok';
    channel.resumeAfterDrain(); // pump for a: read > 2 in flight
    expect(log.pending.length).toBe(1);
    sink.mode = 'backpressure';
    publish(b[1]!); // sent; socket pauses again while a's read is in flight
    await log.releaseAll(); // a's page arrives while paused: nothing sent
    expect(sink.seqs).toEqual(['a#1', 'b#1', 'a#2', 'b#2']);
    sink.mode = 'ok';
    channel.resumeAfterDrain();
    await log.releaseAll();
    expect(sink.seqs).toEqual(['a#1', 'b#1', 'a#2', 'b#2', 'a#3', 'a#4']);
  });
});

/**
 * A log that cannot be read (the database is away): every read fails, either after one I/O tick
 * (a refused connection) or at once, without I/O (a pool that refuses while it is closed). After
 * `breakAfter` reads it answers again, so code that spins ends instead of hanging the suite.
 */
class FailingLog implements EventReader {
  reads = 0;
  failing = true;
  constructor(
    private readonly how: 'io-tick' | 'no-io',
    readonly events: StoredEvent[],
    private readonly breakAfter = 2_000,
  ) {}

  read(_runId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    this.reads++;
    if (this.reads >= this.breakAfter) this.failing = false;
    const answer = () => this.events.filter((e) => e.event.seq > afterSeq).slice(0, limit);
    if (!this.failing) return Promise.resolve(answer());
    const err = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    if (this.how === 'no-io') return Promise.reject(err);
    return new Promise((_resolve, reject) => setImmediate(() => reject(err)));
  }
}

function failingSetup(how: 'io-tick' | 'no-io') {
  const events = run('r1', 5);
  const log = new FailingLog(how, events);
  const sink = new Sink();
  const errors: unknown[] = [];
  const channel = new SocketChannel('user-1', sink, log, { onTerminal: () => undefined, onDropped: () => undefined, onError: (e) => errors.push(e) });
  channel.markReady();
  return { log, sink, channel, errors, events };
}

describe('SocketChannel when the log cannot be read', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a read that fails after an I/O tick is retried later, not at once: a 100 ms timer sees at most a few reads', async () => {
    const { log, channel, errors } = failingSetup('io-tick');
    channel.resume('r1', 0); // a run whose log must be read
    await new Promise((resolve) => setTimeout(resolve, 100));
    const reads = log.reads;
    channel.close();
    expect(reads).toBeGreaterThanOrEqual(1);
    expect(reads).toBeLessThanOrEqual(2);
    expect(errors.length).toBe(reads);
  });

  it('a read that fails without I/O does not starve the event loop; retries back off, are bounded, and deliver once the log answers', async () => {
    vi.useFakeTimers();
    const { log, sink, channel } = failingSetup('no-io');
    let fired = false;
    setTimeout(() => (fired = true), 100);
    channel.resume('r1', 0);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toBe(true);
    expect(log.reads).toBeLessThanOrEqual(2);
    // A minute of outage: the delay doubles up to its ceiling, so a cursor reads a dozen times or so.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log.reads).toBeGreaterThanOrEqual(6);
    expect(log.reads).toBeLessThanOrEqual(16);
    expect(sink.sent).toEqual([]);
    // The log answers again: the next retry (at most RETRY_MAX_MS away) delivers the run, once.
    log.failing = false;
    await vi.advanceTimersByTimeAsync(RETRY_MAX_MS);
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3, 4, 5));
  });

  it('a live event that fills a gap waits for the retry instead of reading at once', async () => {
    vi.useFakeTimers();
    const { log, sink, channel, events } = failingSetup('no-io');
    channel.resume('r1', 0);
    await vi.advanceTimersByTimeAsync(0);
    const reads = log.reads;
    channel.offer(events[2]!); // seq 3 while 1 and 2 are unread: a gap
    channel.offer(events[3]!);
    await vi.advanceTimersByTimeAsync(0);
    expect(log.reads).toBe(reads);
    log.failing = false;
    await vi.advanceTimersByTimeAsync(RETRY_MAX_MS);
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3, 4, 5));
  });

  it('a repair after the database answers again reads at once instead of at the retry', async () => {
    vi.useFakeTimers();
    const { log, sink, channel } = failingSetup('no-io');
    channel.resume('r1', 0);
    await vi.advanceTimersByTimeAsync(30_000); // the retry delay is near its ceiling now
    log.failing = false;
    channel.repair(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(sink.seqs).toEqual(seqs('r1', 1, 2, 3, 4, 5));
  });

  it('closing the socket cancels a scheduled retry', async () => {
    vi.useFakeTimers();
    const { log, channel } = failingSetup('no-io');
    channel.resume('r1', 0);
    await vi.advanceTimersByTimeAsync(0);
    const reads = log.reads;
    channel.close();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(log.reads).toBe(reads);
  });
});
