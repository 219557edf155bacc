// The live feed: real XState actors report through `inspect`; the feed keeps the latest state of
// each, and sends one bounded message per interval however many transitions happened.
import { createActor } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { runMachine } from '../../../machines/run.machine.js';
import { sessionMachine } from '../../../machines/session.machine.js';
import { DebugFeed, type FeedMessage, type FeedSubscriber } from '../../../src/debug/feed.js';

const page = (accept = () => true) => {
  const got: FeedMessage[] = [];
  const sub: FeedSubscriber = {
    focus: undefined,
    send: (text) => {
      if (!accept()) return false;
      got.push(JSON.parse(text) as FeedMessage);
      return true;
    },
    close: () => undefined,
  };
  return { sub, got };
};

describe('DebugFeed', () => {
  const stops: Array<() => void> = [];
  afterEach(() => stops.splice(0).forEach((s) => s()));

  it('coalesces 1,000 runs × 3 transitions into one message with counts per state and a bounded list', () => {
    const feed = new DebugFeed(200, 50);
    const { sub, got } = page();
    feed.subscribe(sub);
    expect(got).toHaveLength(1);
    const actors = Array.from({ length: 1000 }, (_, i) => {
      const a = createActor(runMachine, { inspect: feed.inspect({ runId: `r${i}`, userId: 'u', agent: 'a', attempt: 1 }) }).start();
      stops.push(() => a.stop());
      a.send({ type: 'agent_started' });
      a.send({ type: 'tool_executing', toolCallId: `c${i}` });
      if (i < 10) {
        a.send({ type: 'tool_completed', toolCallId: `c${i}` });
        a.send({ type: 'agent_completed', text: '' });
      }
      return a;
    });
    feed.flush();
    feed.flush(); // nothing changed since: nothing sent
    expect(got).toHaveLength(2);
    const m = got[1]!;
    expect(m.totals.run).toEqual({ active: 990, finished: 10, listed: 50 });
    expect(m.counts['run.running.toolCall']).toBe(990);
    expect(m.counts['run.running']).toBe(990);
    expect(m.counts['run.completed']).toBe(10);
    expect(m.actors).toHaveLength(50);
    expect(m.actors[0]).toMatchObject({ id: 'r10', states: ['run.running', 'run.running.toolCall'], lastEvent: 'tool_executing', status: 'active' });
    expect(feed.stats.inspectionEvents).toBeGreaterThan(3000);
    expect(actors).toHaveLength(1000);
  });

  it('adds the followed actor when it is not listed, marks refusals, and skips a page that cannot take more', () => {
    const feed = new DebugFeed(200, 10);
    let open = true;
    const { sub, got } = page(() => open);
    feed.subscribe(sub);
    for (let i = 0; i < 20; i++) {
      const a = createActor(runMachine, { inspect: feed.inspect({ runId: `r${i}`, userId: 'u', agent: 'a', attempt: 1 }) }).start();
      stops.push(() => a.stop());
      a.send({ type: 'agent_started' });
    }
    feed.refused('r15', 'tool_completed', { running: 'working' });
    feed.refocus(sub, 'r15');
    const m = got.at(-1)!;
    expect(m.actors.some((a) => a.id === 'r15')).toBe(false);
    expect(m.focus).toMatchObject({ id: 'r15', refused: { event: 'tool_completed' } });
    expect(m.refusedTotal).toBe(1);

    open = false;
    feed.refused('r1', 'agent_thinking', 'queued');
    feed.flush();
    expect(feed.stats.skipped).toBe(1);
    open = true;
    feed.refused('r2', 'agent_thinking', 'queued');
    feed.flush();
    expect(got.at(-1)?.refusedTotal).toBe(3); // the next message is whole: nothing was lost by skipping
  });

  it('follows a session actor until it closes, and a run attempt that ends without a terminal event as stopped', () => {
    const feed = new DebugFeed(200, 10);
    const { sub, got } = page();
    feed.subscribe(sub);
    const s = createActor(sessionMachine, { input: { userId: 'u1' }, inspect: feed.inspectSession('u1') }).start();
    s.send({ type: 'RUN_ACTIVE', runId: 'r' });
    const run = createActor(runMachine, { inspect: feed.inspect({ runId: 'r', userId: 'u1', agent: 'a', attempt: 1 }) }).start();
    run.send({ type: 'agent_started' });
    feed.flush();
    expect(got.at(-1)?.actors.find((a) => a.id === 'u1')?.states).toEqual(['session.connected', 'session.connected.carrying']);
    run.stop();
    feed.detached('r');
    s.send({ type: 'SOCKET_CLOSED', socketId: 's1', remaining: 0 });
    feed.flush();
    const m = got.at(-1)!;
    expect(m.actors.find((a) => a.id === 'u1')).toMatchObject({ status: 'done', states: ['session.closed'] });
    expect(m.actors.find((a) => a.id === 'r')).toMatchObject({ status: 'stopped' });
    expect(m.totals.session).toEqual({ active: 0, finished: 1, listed: 1 });
  });
});
