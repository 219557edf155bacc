// An agent_request whose requestId names an existing run answers run_accepted for that run and
// carries it on the asking socket: from its first event, or from where this socket already is,
// never twice and never with a gap (docs/protocol-notes.md, "A retried agent_request carries its
// run"). Before, a retry on a socket that did not carry the run got run_accepted and then nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gates, scriptedAgent } from '../helpers/agents.js';
import { backends } from '../helpers/backends.js';
import type { Frame, TestClient } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const TERMINAL = ['agent_completed', 'agent_error', 'agent_cancelled'];

/** Sends `agent_request` with `requestId` and returns its run_accepted (or error). */
async function ask(client: TestClient, requestId: string, text: string, agent: string): Promise<Frame> {
  const from = client.frames.length;
  client.send({ type: 'agent_request', requestId, input: { text }, agent });
  return client.waitFor((f) => (f.type === 'run_accepted' || f.type === 'error') && f.requestId === requestId, from);
}

/** Every frame this socket handled before has been answered: a ping sent now is answered after them. */
async function settle(client: TestClient): Promise<void> {
  const id = `settle-${randomUUID()}`;
  client.send({ type: 'ping', id });
  await client.waitFor((f) => f.type === 'pong' && f.id === id);
}

const seqs = (client: TestClient, runId: string) => client.eventsOf(runId).map((e) => e.seq);
const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe.each(backends)('a retried agent_request on %s', (backend) => {
  let server: TestServer;
  const gates = new Gates();
  beforeAll(async () => {
    server = await startServer(backend, { agents: [scriptedAgent, gates.agent()] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    { acked: false, what: 'listed in its session_ready (not acked)' },
    { acked: true, what: 'acked to the end, so not listed' },
  ])('after the run finished, a second socket ($what) sending the same requestId gets run_accepted, then the whole run from seq 1, once', async ({ acked }) => {
    const u = await server.register();
    const first = await server.connect(u.token);
    await first.waitType('session_ready');
    const requestId = `retry-${randomUUID()}`;
    const accepted = await ask(first, requestId, 'finished before the retry', 'scripted');
    expect(accepted.type).toBe('run_accepted');
    const runId = accepted.runId as string;
    const events = await first.runEvents(runId);
    if (acked) {
      first.send({ type: 'ack', runId, seq: events.at(-1)!.seq });
      await settle(first);
    }
    await first.close();

    const second = await server.connect(u.token);
    const ready = await second.waitType('session_ready');
    expect((ready.runs as Array<{ runId: string }>).some((r) => r.runId === runId)).toBe(!acked);
    const from = second.frames.length;
    // The body may differ: the requestId decides.
    const again = await ask(second, requestId, 'the same question, asked again', 'scripted');
    expect(again).toEqual(accepted);
    const replay = await second.runEvents(runId);
    expect(replay).toEqual(events);
    expect(TERMINAL).toContain(replay.at(-1)!.type);
    // run_accepted came first, then the run's events, nothing of it before.
    const afterRequest = second.frames.slice(from).filter((f) => f.runId === runId || f.requestId === requestId);
    expect(afterRequest[0]).toEqual(accepted);
    await settle(second);
    expect(seqs(second, runId)).toEqual(oneToN(events.length));
  });

  it('during the run, a socket that only saw it listed in session_ready and sends the same requestId gets it from seq 1 through its terminal event, once', async () => {
    const u = await server.register();
    const first = await server.connect(u.token);
    await first.waitType('session_ready');
    const requestId = `retry-${randomUUID()}`;
    const key = `listed-${requestId}`;
    const accepted = await ask(first, requestId, key, 'gated');
    const runId = accepted.runId as string;
    await gates.reached(key);

    const tab = await server.connect(u.token);
    const ready = await tab.waitType('session_ready');
    expect((ready.runs as Array<{ runId: string }>).map((r) => r.runId)).toContain(runId);
    const again = await ask(tab, requestId, key, 'gated');
    expect(again).toEqual(accepted);
    // The events stored before the retry arrive without the run going on.
    await tab.waitFor((f) => f.runId === runId && f.type === 'agent_thinking');
    gates.release(key);
    const events = await first.runEvents(runId);
    expect(events.at(-1)?.type).toBe('agent_completed');
    await tab.runEvents(runId);
    await settle(tab);
    expect(tab.eventsOf(runId)).toEqual(events);
    expect(seqs(tab, runId)).toEqual(oneToN(events.at(-1)!.seq));
  });

  it('during the run, the same requestId on sockets that carry it (the asker, and a tab that resumed it after seq 1) goes on from where each is: no duplicate, no gap', async () => {
    const u = await server.register();
    const asker = await server.connect(u.token);
    await asker.waitType('session_ready');
    const requestId = `retry-${randomUUID()}`;
    const key = `carried-${requestId}`;
    const accepted = await ask(asker, requestId, key, 'gated');
    const runId = accepted.runId as string;
    await gates.reached(key);
    await asker.waitFor((f) => f.runId === runId && f.type === 'agent_thinking');

    const tab = await server.connect(u.token);
    await tab.waitType('session_ready');
    tab.send({ type: 'resume', runs: [{ runId, afterSeq: 1 }] });
    await tab.waitFor((f) => f.runId === runId && f.type === 'agent_thinking');

    expect(await ask(asker, requestId, key, 'gated')).toEqual(accepted);
    expect(await ask(tab, requestId, key, 'gated')).toEqual(accepted);
    gates.release(key);
    const last = (await asker.runEvents(runId)).at(-1)!;
    expect(last.type).toBe('agent_completed');
    await tab.runEvents(runId);
    await Promise.all([settle(asker), settle(tab)]);
    expect(seqs(asker, runId)).toEqual(oneToN(last.seq));
    expect(seqs(tab, runId)).toEqual(oneToN(last.seq).slice(1));
  });

  it('after this socket delivered the whole run, the same requestId on it answers run_accepted and sends none of the run again', async () => {
    const u = await server.register();
    const client = await server.connect(u.token);
    await client.waitType('session_ready');
    const requestId = `retry-${randomUUID()}`;
    const accepted = await ask(client, requestId, 'delivered already', 'scripted');
    const runId = accepted.runId as string;
    const events = await client.runEvents(runId);

    const from = client.frames.length;
    expect(await ask(client, requestId, 'delivered already', 'scripted')).toEqual(accepted);
    // A later run on the same socket, through its end: a replay of the first, had it begun with
    // the retry, would have been read from the log and sent before this run is even stored.
    const later = await ask(client, `later-${randomUUID()}`, 'a later question', 'scripted');
    await client.runEvents(later.runId as string);
    await settle(client);
    expect(client.frames.slice(from).filter((f) => f.runId === runId && typeof f.seq === 'number')).toEqual([]);
    expect(seqs(client, runId)).toEqual(oneToN(events.length));
  });
});
