// The life of runs over real sockets: resume, ack, cancel, busy threads, a second tab.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gates, historyAgent, parallelAgent, scriptedAgent } from '../helpers/agents.js';
import { primaryBackend } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe(`runs on ${primaryBackend}`, () => {
  let server: TestServer;
  const gates = new Gates();
  beforeAll(async () => {
    server = await startServer(primaryBackend, { agents: [scriptedAgent, historyAgent, parallelAgent, gates.agent()] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('resumes a run after the socket dropped: the rest, no gap, no duplicate', async () => {
    const u = await server.register();
    const first = await server.connect(u.token);
    await first.waitType('session_ready');
    const acc = await first.request('resume-me', { agent: 'gated' });
    const runId = acc.runId as string;
    await first.waitFor((f) => f.runId === runId && f.type === 'agent_thinking');
    const seen = first.eventsOf(runId).map((e) => e.seq);
    first.terminate();
    await first.closed;

    gates.release('resume-me');
    const second = await server.connect(u.token);
    const ready = await second.waitType('session_ready');
    const listed = (ready.runs as Array<{ runId: string; lastSeq: number; ackedSeq: number }>).find((r) => r.runId === runId);
    expect(listed).toBeDefined();
    expect(listed?.ackedSeq).toBe(0);
    const last = Math.max(...seen);
    second.send({ type: 'resume', runs: [{ runId, afterSeq: last }] });
    const rest = await second.runEvents(runId);
    expect(rest.map((e) => e.seq)).toEqual(rest.map((_, i) => last + 1 + i));
    expect(rest.at(-1)?.type).toBe('agent_completed');
    const all = [...seen, ...rest.map((e) => e.seq)];
    expect(all).toEqual(all.map((_, i) => i + 1));

    // Acked to the end, the run is no longer listed on the next connection.
    second.send({ type: 'ack', runId, seq: rest.at(-1)!.seq });
    second.send({ type: 'ping', id: 'after-ack' });
    await second.waitFor((f) => f.type === 'pong' && f.id === 'after-ack');
    const third = await server.connect(u.token);
    const ready3 = await third.waitType('session_ready');
    expect((ready3.runs as Array<{ runId: string }>).map((r) => r.runId)).not.toContain(runId);
  });

  it('carries a run to every socket of its owner, but one already under way only after resume', async () => {
    const u = await server.register();
    const tab1 = await server.connect(u.token);
    const tab2 = await server.connect(u.token);
    await Promise.all([tab1.waitType('session_ready'), tab2.waitType('session_ready')]);
    const acc = await tab1.request('two-tabs', { agent: 'gated' });
    const runId = acc.runId as string;
    await gates.reached('two-tabs');
    // A third tab opened while the run is under way: listed, not carried.
    const tab3 = await server.connect(u.token);
    const ready = await tab3.waitType('session_ready');
    expect((ready.runs as Array<{ runId: string; status: string }>).find((r) => r.runId === runId)?.status).toBe('running');
    gates.release('two-tabs');
    const e1 = await tab1.runEvents(runId);
    const e2 = await tab2.runEvents(runId);
    expect(e2).toEqual(e1);
    tab3.send({ type: 'ping', id: 1 });
    await tab3.waitFor((f) => f.type === 'pong');
    expect(tab3.eventsOf(runId)).toEqual([]);
    tab3.send({ type: 'resume', runs: [{ runId, afterSeq: 0 }] });
    expect(await tab3.runEvents(runId)).toEqual(e1);
  });

  it('cancels a running run: the agent is aborted and agent_cancelled is the terminal event', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const acc = await c.request('cancel-me', { agent: 'gated' });
    const runId = acc.runId as string;
    await gates.reached('cancel-me');
    c.send({ type: 'cancel_run', runId });
    const events = await c.runEvents(runId);
    expect(events.at(-1)).toMatchObject({ type: 'agent_cancelled', reason: 'cancelled by user' });
    expect(events.map((e) => e.type)).not.toContain('agent_completed');
    // Cancelling again is a no-op; this socket already has the terminal event, so it is not sent
    // twice (docs/protocol.md, cancel_run). Frames are handled in order: the pong comes after the
    // cancel's answer, if there were one.
    c.send({ type: 'cancel_run', runId });
    c.send({ type: 'ping', id: 'after-second-cancel' });
    await c.waitFor((f) => f.type === 'pong' && f.id === 'after-second-cancel');
    expect(c.frames.filter((f) => f.runId === runId && f.type === 'agent_cancelled')).toHaveLength(1);
  });

  it('queues with onBusy enqueue and interrupts with onBusy interrupt', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const a = await c.request('busy-a', { agent: 'gated' });
    const threadId = a.threadId as string;
    await gates.reached('busy-a');

    const rejected = await c.request('busy-b', { agent: 'gated', threadId });
    expect(rejected).toMatchObject({ type: 'error', code: 'thread_busy' });

    const b = await c.request('busy-b', { agent: 'gated', threadId, onBusy: 'enqueue' });
    expect(b.type).toBe('run_accepted');
    // b waits for a: nothing of it is stored yet.
    const waiting = await fetch(`${server.url}/v1/runs/${b.runId as string}/events`, { headers: { authorization: `Bearer ${u.token}` } });
    expect(((await waiting.json()) as { events: unknown[] }).events).toEqual([]);
    gates.release('busy-a');
    const eventsA = await c.runEvents(a.runId as string);
    expect(eventsA.at(-1)?.type).toBe('agent_completed');
    await gates.reached('busy-b');

    const d = await c.request('busy-d', { agent: 'scripted', threadId, onBusy: 'interrupt' });
    expect(d.type).toBe('run_accepted');
    const eventsB = await c.runEvents(b.runId as string);
    expect(eventsB.at(-1)).toMatchObject({ type: 'agent_cancelled', reason: 'interrupted by a newer request' });
    const eventsD = await c.runEvents(d.runId as string);
    expect(eventsD.at(-1)?.type).toBe('agent_completed');
    // Order in the thread: a completed, b cancelled, d completed; d started after b ended.
    expect(Date.parse(eventsD[0]!.ts)).toBeGreaterThanOrEqual(Date.parse(eventsB.at(-1)!.ts));
  });

  it('cancels a queued run that never started with agent_started then agent_cancelled', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const a = await c.request('hold', { agent: 'gated' });
    await gates.reached('hold');
    const b = await c.request('never', { agent: 'scripted', threadId: a.threadId, onBusy: 'enqueue' });
    c.send({ type: 'cancel_run', runId: b.runId });
    const eventsB = await c.runEvents(b.runId as string);
    expect(eventsB.map((e) => e.type)).toEqual(['agent_started', 'agent_cancelled']);
    gates.release('hold');
    expect((await c.runEvents(a.runId as string)).at(-1)?.type).toBe('agent_completed');
  });

  it('streams agent_output pieces whose concatenation is the final answer', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const acc = await c.request('stream', { agent: 'scripted' });
    const events = await c.runEvents(acc.runId as string);
    const outputs = events.filter((e) => e.type === 'agent_output').map((e) => (e as { text: string }).text);
    expect(outputs.join('')).toBe((events.at(-1) as { text: string }).text);
  });

  it('gives a follow-up in the same thread the earlier messages as history', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const first = await c.request('How much do I spend?');
    await c.runEvents(first.runId as string);
    const second = await c.request('and for support_chat?', { threadId: first.threadId });
    const events = await c.runEvents(second.runId as string);
    expect(events.at(-1)?.type).toBe('agent_completed');
    expect((events.at(-1) as { text: string }).text).toMatch(/support_chat/);
  });

  it('gives a queued run the earlier question and its answer, in order, even when the answer came later', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const a = await c.request('first question', { agent: 'gated' });
    await gates.reached('first question');
    const b = await c.request('second question', { agent: 'history', threadId: a.threadId, onBusy: 'enqueue' });
    gates.release('first question');
    const events = await c.runEvents(b.runId as string);
    expect((events.at(-1) as { data?: unknown }).data).toEqual([
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'done: first question' },
    ]);
  });

  it('interrupts a thread whose run has another queued behind it: both end, the new run completes', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const a = await c.request('int-a', { agent: 'gated' });
    await gates.reached('int-a');
    const p = await c.request('int-p', { agent: 'gated', threadId: a.threadId, onBusy: 'enqueue' });
    const n = await c.request('int-n', { agent: 'scripted', threadId: a.threadId, onBusy: 'interrupt' });
    expect([a.type, p.type, n.type]).toEqual(['run_accepted', 'run_accepted', 'run_accepted']);
    expect((await c.runEvents(a.runId as string)).at(-1)).toMatchObject({ type: 'agent_cancelled' });
    expect((await c.runEvents(p.runId as string)).map((e) => e.type)).toEqual(['agent_started', 'agent_cancelled']);
    expect((await c.runEvents(n.runId as string)).at(-1)?.type).toBe('agent_completed');
    const thread = await fetch(`${server.url}/v1/threads/${a.threadId as string}`, { headers: { authorization: `Bearer ${u.token}` } });
    const runs = ((await thread.json()) as { runs: Array<{ runId: string; status: string }> }).runs;
    expect(runs.map((r) => r.status)).toEqual(['cancelled', 'cancelled', 'completed']);
  });

  it('stores the events of parallel tool calls one at a time, gapless and grammatical', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const acc = await c.request('both at once', { agent: 'parallel' });
    const events = await c.runEvents(acc.runId as string);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.type === 'tool_completed')).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'looked up 2 models' });
  });

  it('answers frames sent before session_ready only after it, in the order sent', async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    // Sent at once, before the server's snapshot is read.
    c.send({ type: 'ping', id: 'early-1' });
    c.send('not json');
    c.send({ type: 'ping', id: 'early-2' });
    await c.waitFor((f) => f.type === 'pong' && f.id === 'early-2');
    expect(c.frames.map((f) => f.type)).toEqual(['session_ready', 'pong', 'error', 'pong']);
  });
});
