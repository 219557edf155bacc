// PgNotifier's sending side (src/runs/notifier.ts): what a tick publishes goes out batched in one
// statement, one flush at a time, packed under PostgreSQL's payload limit; a failed NOTIFY is
// retried with everything put back. The statement is captured where it would reach PostgreSQL; the
// listener is not started. Fake timers: the retry's second is advanced, not waited.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../../src/log/logger.js';
import { PgNotifier } from '../../../src/runs/notifier.js';

const log = { warn: () => undefined, error: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger;

/** One captured statement: its (channel, payload) pairs. */
type Sent = Array<[string, string]>;

function notifier(answer: (call: number) => Promise<unknown> = async () => undefined) {
  const sent: Sent[] = [];
  const n = new PgNotifier(
    'postgres://unused',
    (sql, params) => {
      expect(sql).toContain('pg_notify');
      const [channels, payloads] = params as [string[], string[]];
      sent.push(channels.map((c, i) => [c, payloads[i]!]));
      return answer(sent.length);
    },
    'node-1',
    log,
  );
  return { n, sent };
}

/** The lines of a payload after the sender's id. */
const lines = (payload: string) => payload.split('\n').slice(1);

describe('PgNotifier batching and retry', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setImmediate', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('what one tick publishes leaves in one statement: a seq range per run, the cancels, one queued signal', async () => {
    const { n, sent } = notifier();
    n.publishEvent('u1', 'r1', 1);
    n.publishEvent('u1', 'r1', 2);
    n.publishEvent('u1', 'r1', 3);
    n.publishEvent('u2', 'r2', 7);
    n.publishCancel('r3', 'user\nasked');
    n.publishQueued();
    n.publishQueued();
    expect(sent).toEqual([]); // nothing before the tick ends
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    const byChannel = new Map<string, string[]>();
    for (const [c, p] of sent[0]!) {
      expect(p.split('\n')[0]).toBe('node-1');
      byChannel.set(c, [...(byChannel.get(c) ?? []), ...lines(p)]);
    }
    expect(byChannel.get('agentwire_events')).toEqual(['u1 r1 1 3', 'u2 r2 7 7']);
    expect(byChannel.get('agentwire_cancel')).toEqual(['r3 user asked']);
    expect([...byChannel.keys()]).toContain('agentwire_queued');
    expect(sent[0]!.filter(([c]) => c === 'agentwire_queued')).toHaveLength(1);
  });

  it('one flush at a time: what arrives while a statement is out goes together in the next', async () => {
    let release!: () => void;
    const { n, sent } = notifier((call) => (call === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve()));
    n.publishEvent('u1', 'r1', 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    n.publishEvent('u1', 'r1', 2);
    n.publishEvent('u1', 'r1', 3);
    n.publishEvent('u2', 'r2', 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1); // still waiting for the first
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(2);
    expect(lines(sent[1]![0]![1])).toEqual(['u1 r1 2 3', 'u2 r2 1 1']);
  });

  it('a failed NOTIFY is retried a second later with everything put back', async () => {
    const { n, sent } = notifier((call) => (call === 1 ? Promise.reject(new Error('connection lost')) : Promise.resolve()));
    n.publishEvent('u1', 'r1', 2);
    n.publishEvent('u1', 'r1', 3);
    n.publishCancel('r9', 'user');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(sent).toHaveLength(1); // not before the retry's second
    // The retry's timer, then its flush on a later fake tick.
    await vi.advanceTimersByTimeAsync(10);
    expect(sent).toHaveLength(2);
    const retried = new Map(sent[1]!.map(([c, p]) => [c, lines(p)]));
    expect(retried.get('agentwire_events')).toEqual(['u1 r1 2 3']);
    expect(retried.get('agentwire_cancel')).toEqual(['r9 user']);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sent).toHaveLength(2); // delivered: nothing more to send
  });

  it('what failed goes out with the next publish, merged into one range per run', async () => {
    const { n, sent } = notifier((call) => (call === 1 ? Promise.reject(new Error('connection lost')) : Promise.resolve()));
    n.publishEvent('u1', 'r1', 2);
    n.publishEvent('u1', 'r1', 3);
    await vi.advanceTimersByTimeAsync(0);
    n.publishEvent('u1', 'r1', 5);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(2);
    expect(lines(sent[1]![0]![1])).toEqual(['u1 r1 2 5']);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sent).toHaveLength(2); // the retry finds nothing left to send
  });

  it('after stop a failed NOTIFY is not retried', async () => {
    const { n, sent } = notifier(() => Promise.reject(new Error('down')));
    n.publishEvent('u1', 'r1', 1);
    await n.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toHaveLength(1);
  });

  it('payloads stay under PostgreSQL limit: many runs are split over several, each led by the node id, none lost', async () => {
    const { n, sent } = notifier();
    const ids = Array.from({ length: 400 }, (_, i) => `run-${String(i).padStart(4, '0')}-${'x'.repeat(20)}`);
    for (const id of ids) n.publishEvent('user-abcdefgh', id, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    const payloads = sent[0]!.filter(([c]) => c === 'agentwire_events').map(([, p]) => p);
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) {
      expect(Buffer.byteLength(p)).toBeLessThanOrEqual(7000);
      expect(p.startsWith('node-1\n')).toBe(true);
    }
    expect(payloads.flatMap(lines).map((l) => l.split(' ')[1])).toEqual(ids);
  });
});
