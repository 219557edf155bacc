// SessionHub: one session per user; events reach that user's sockets and nobody else's.
import { describe, it, expect, vi } from 'vitest';
import { SessionHub, CLOSE_TOO_SLOW } from '../../../src/session/hub.js';
import type { EventReader, SendResult, SocketSink } from '../../../src/session/cursor.js';
import type { StoredEvent } from '../../../src/store/event-log.js';
import type { RunEvent, SessionReadyFrame } from '../../../src/protocol/events.js';
import type { Logger } from '../../../src/log/logger.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const TS = '2025-01-01T00:00:00.000Z';

function ev(runId: string, seq: number, terminal = false): StoredEvent {
  const base = { runId, threadId: `t-${runId}`, seq, ts: TS };
  const event: RunEvent =
    seq === 1
      ? { ...base, type: 'agent_started', agent: 'echo', input: { text: 'hi' } }
      : terminal
        ? { ...base, type: 'agent_cancelled', reason: 'user' }
        : { ...base, type: 'agent_thinking', text: `step ${seq}` };
  return { event, json: JSON.stringify(event) };
}

class Sink implements SocketSink {
  readonly sent: Array<{ type: string; runId?: string; seq?: number; runs?: unknown[] }> = [];
  mode: SendResult = 'ok';
  closed?: number;
  constructor(readonly id: string) {}
  send(text: string): SendResult {
    if (this.mode !== 'dropped') this.sent.push(JSON.parse(text));
    return this.mode;
  }
  close(code: number): void {
    this.closed ??= code;
  }
  get events() {
    return this.sent.filter((f) => f.type !== 'session_ready').map((f) => `${f.runId}#${f.seq}`);
  }
}

function setup(opts: { actors?: boolean } = {}) {
  const log = new Map<string, StoredEvent[]>();
  const reader: EventReader = {
    read: (runId, afterSeq, limit) =>
      Promise.resolve((log.get(runId) ?? []).filter((e) => e.event.seq > afterSeq).slice(0, limit)),
  };
  const errors: string[] = [];
  const logger = { warn: () => undefined, error: (_o: unknown, m: string) => errors.push(m) } as unknown as Logger;
  // With `actors`, each session is a real XState actor, as while the visualizer is on.
  const hub = new SessionHub(reader, logger, undefined, undefined, opts.actors ? () => () => undefined : undefined);
  const publish = (userId: string, e: StoredEvent) => {
    log.set(e.event.runId, [...(log.get(e.event.runId) ?? []), e]);
    hub.deliver(userId, e);
  };
  const frame = (userId: string, runs: SessionReadyFrame['runs'] = []): SessionReadyFrame => ({
    type: 'session_ready',
    sessionId: 'x',
    userId,
    serverTime: TS,
    limits: { maxFrameBytes: 65536, requestsPerMinute: 60 },
    runs,
  });
  return { hub, publish, frame, errors, log };
}

describe('SessionHub', () => {
  it('delivers a user’s runs to all of that user’s sockets and to nobody else', async () => {
    const { hub, publish, frame } = setup();
    const a1 = new Sink('a1');
    const a2 = new Sink('a2');
    const b1 = new Sink('b1');
    hub.ready(hub.open('alice', a1), 0, frame('alice'));
    hub.ready(hub.open('alice', a2), 0, frame('alice'));
    hub.ready(hub.open('bob', b1), 0, frame('bob'));
    publish('alice', ev('ra', 1));
    publish('bob', ev('rb', 1));
    publish('alice', ev('ra', 2, true));
    await flush();
    expect(a1.events).toEqual(['ra#1', 'ra#2']);
    expect(a2.events).toEqual(['ra#1', 'ra#2']);
    expect(b1.events).toEqual(['rb#1']);
    expect(hub.sessionCount).toBe(2);
    expect(hub.socketCount).toBe(3);
  });

  it('session_ready is the first frame; a run the socket already carries is not listed', async () => {
    const { hub, publish, frame } = setup();
    const s = new Sink('s');
    const ch = hub.open('alice', s);
    publish('alice', ev('new', 1)); // starts between open and ready
    hub.ready(ch, 0, frame('alice', [
      { runId: 'new', threadId: 't', status: 'running', lastSeq: 1, ackedSeq: 0 },
      { runId: 'old', threadId: 't', status: 'running', lastSeq: 4, ackedSeq: 2 },
    ]));
    await flush();
    expect(s.sent[0]).toMatchObject({ type: 'session_ready' });
    expect((s.sent[0]!.runs as Array<{ runId: string }>).map((r) => r.runId)).toEqual(['old']);
    expect(s.events).toEqual(['new#1']);
    expect(ch.listed.has('old')).toBe(true);
  });

  it('a socket whose session_ready is dropped is closed and gets nothing else', async () => {
    const { hub, publish, frame } = setup();
    const s = new Sink('s');
    const ch = hub.open('alice', s);
    publish('alice', ev('r', 1));
    s.mode = 'dropped';
    hub.ready(ch, 0, frame('alice'));
    expect(s.closed).toBe(CLOSE_TOO_SLOW.code);
    s.mode = 'ok'; // even if the buffer empties before the close completes
    publish('alice', ev('r', 2));
    await flush();
    expect(s.sent).toEqual([]);
  });

  it('a dropped run event closes the socket as too slow', () => {
    const { hub, publish, frame } = setup();
    const s = new Sink('s');
    hub.ready(hub.open('alice', s), 0, frame('alice'));
    s.mode = 'dropped';
    publish('alice', ev('r', 1));
    expect(s.closed).toBe(CLOSE_TOO_SLOW.code);
  });

  it('closing the last socket ends the session; events for a user without sockets go nowhere', () => {
    const { hub, publish, frame } = setup();
    const s1 = new Sink('s1');
    const s2 = new Sink('s2');
    const c1 = hub.open('alice', s1);
    const c2 = hub.open('alice', s2);
    hub.ready(c1, 0, frame('alice'));
    hub.ready(c2, 0, frame('alice'));
    publish('alice', ev('r', 1));
    expect(hub.sessionStates()).toEqual([{ userId: 'alice', value: { connected: 'carrying' }, sockets: 2, activeRuns: ['r'] }]);
    hub.close(c1);
    hub.close(c1); // twice: harmless
    expect(hub.sessionStates()).toEqual([{ userId: 'alice', value: { connected: 'carrying' }, sockets: 1, activeRuns: ['r'] }]);
    publish('alice', ev('r', 2, true));
    expect(hub.sessionStates()).toEqual([{ userId: 'alice', value: { connected: 'idle' }, sockets: 1, activeRuns: [] }]);
    expect(s1.events).toEqual(['r#1']);
    hub.close(c2);
    expect(hub.sessionCount).toBe(0);
    expect(() => publish('alice', ev('q', 1))).not.toThrow();
  });

  it('closeAll drains every session and closes its sockets with 1001', () => {
    const { hub, frame } = setup();
    const a = new Sink('a');
    const b = new Sink('b');
    hub.ready(hub.open('alice', a), 0, frame('alice'));
    hub.ready(hub.open('bob', b), 0, frame('bob'));
    hub.closeAll();
    expect(a.closed).toBe(1001);
    expect(b.closed).toBe(1001);
    expect(hub.sessionStates().map((s) => s.value)).toEqual(['draining', 'draining']);
  });
});

// The session statechart drives: its actions (carryRun, closeSockets, endSession) do the work, the
// same in production (snapshots stepped by `transition`) and under the visualizer (actors).
describe.each([
  ['snapshots', false],
  ['actors', true],
])('SessionHub driven by the session statechart (%s)', (_name, actors) => {
  it('a run accepted here is carried from its start by every socket of its user, and only theirs', async () => {
    const { hub, log, frame } = setup({ actors });
    const a1 = new Sink('a1');
    const a2 = new Sink('a2');
    const b1 = new Sink('b1');
    const c1 = hub.open('alice', a1);
    const c2 = hub.open('alice', a2);
    hub.ready(c1, 0, frame('alice'));
    hub.ready(c2, 0, frame('alice'));
    hub.ready(hub.open('bob', b1), 0, frame('bob'));
    hub.runActive('alice', 'r');
    expect([c1.cursors.has('r'), c2.cursors.has('r')]).toEqual([true, true]);
    expect(hub.sessionStates().find((x) => x.userId === 'alice')).toMatchObject({ value: { connected: 'carrying' }, activeRuns: ['r'] });
    // Its events, stored before any live delivery, come from the log from seq 1.
    log.set('r', [ev('r', 1), ev('r', 2)]);
    hub.hint([{ userId: 'alice', runId: 'r', fromSeq: 1, toSeq: 2 }]);
    await flush();
    await flush();
    expect(a1.events).toEqual(['r#1', 'r#2']);
    expect(a2.events).toEqual(['r#1', 'r#2']);
    expect(b1.events).toEqual([]);
  });

  it('the last socket closing ends the session; shutdown closes every socket with its code', () => {
    const { hub, frame } = setup({ actors });
    const a1 = new Sink('a1');
    const a2 = new Sink('a2');
    const c1 = hub.open('alice', a1);
    hub.ready(c1, 0, frame('alice'));
    hub.ready(hub.open('alice', a2), 0, frame('alice'));
    hub.close(c1);
    expect(hub.sessionCount).toBe(1);
    hub.closeAll(1001, 'bye');
    expect([a1.closed, a2.closed]).toEqual([undefined, 1001]);
    expect(hub.sessionStates().map((x) => x.value)).toEqual(['draining']);
    hub.close(hub.channelsOf('alice')[0]!);
    expect(hub.sessionCount).toBe(0);
  });
});

describe('SessionHub as the registry of sockets', () => {
  it('counts a user’s sockets, and revocation closes (4401) only those opened under another token version', async () => {
    const { hub } = setup();
    const old = new Sink('old');
    const fresh = new Sink('fresh');
    const bob = new Sink('bob');
    hub.open('alice', old, 1);
    hub.open('alice', fresh, 2);
    hub.open('bob', bob, 7);
    expect([hub.socketsOf('alice'), hub.socketsOf('bob'), hub.socketsOf('carol')]).toEqual([2, 1, 0]);
    expect(hub.revoke('alice', 2)).toBe(1);
    expect([old.closed, fresh.closed, bob.closed]).toEqual([4401, undefined, undefined]);
    // Revocations made elsewhere: bob's version moved on; a user that no longer exists has no valid token.
    const carol = new Sink('carol');
    hub.open('carol', carol, 1);
    expect(await hub.checkRevocations(async (ids) => new Map(ids.filter((id) => id !== 'carol').map((id) => [id, id === 'bob' ? 8 : 2])))).toBe(3);
    expect([fresh.closed, bob.closed, carol.closed]).toEqual([undefined, 4401, 4401]);
  });
});

describe('SessionHub when the log cannot be read', () => {
  it('logs failed reads once when they start and then once per interval, not once per read', async () => {
    vi.useFakeTimers();
    try {
      let reads = 0;
      let failing = true;
      const reader: EventReader = {
        read: () => {
          reads++;
          // Answers after 20,000 reads, so code that retries at once ends instead of hanging.
          return failing && reads < 20_000 ? Promise.reject(new Error('connect ECONNREFUSED')) : Promise.resolve([]);
        },
      };
      const lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
      const logger = {
        warn: () => undefined,
        error: (fields: Record<string, unknown>, msg: string) => lines.push({ msg, fields }),
      } as unknown as Logger;
      const hub = new SessionHub(reader, logger);
      // 20 sockets each carrying 10 runs: 200 cursors whose reads fail through a minute's outage.
      for (let s = 0; s < 20; s++) {
        const userId = `u${s}`;
        const channel = hub.open(userId, new Sink(`s${s}`));
        hub.ready(channel, 0, { type: 'session_ready', sessionId: 'x', userId, serverTime: TS, limits: { maxFrameBytes: 65536, requestsPerMinute: 60 }, runs: [] });
        for (let r = 0; r < 10; r++) channel.resume(`run-${s}-${r}`, 0);
      }
      for (let i = 0; i < 6; i++) {
        hub.repairAll(); // the repair timer, every 10 s
        await vi.advanceTimersByTimeAsync(10_000);
      }
      expect(reads).toBeGreaterThan(200);
      // The first failure at once, then at most one summary per 10 s interval.
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.length).toBeLessThanOrEqual(7);
      expect(lines[0]).toMatchObject({ msg: 'delivery from the log failed' });
      expect(lines[0]!.fields.err).toBeInstanceOf(Error);
      expect(lines[1]).toMatchObject({ msg: 'delivery from the log failed (repeated)' });
      // Every failure is counted in a line (those of the interval still open are not logged yet).
      const counted = lines.slice(1).reduce((n, l) => n + (l.fields.repeated as number), 1);
      expect(counted).toBeLessThanOrEqual(reads);
      expect(counted).toBeGreaterThan(reads / 2);
      failing = false;
      hub.closeAll();
    } finally {
      vi.useRealTimers();
    }
  });
});
