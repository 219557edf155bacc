// The client SDK against a real server, with every connection cut at random moments by a TCP
// proxy in between: each run's events still arrive exactly once, in order, to the end. close()
// leaves nothing hanging: pending connect() and ask() reject, open runs' iterations end.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentwireClient, AgentwireError, type RunEvent, type WebSocketFactory } from '../../client/src/index.js';
import { floodAgent, Gates, pacedAgent, scriptedAgent } from '../helpers/agents.js';
import { primaryBackend } from '../helpers/backends.js';
import { startProxy, type CuttableProxy } from '../helpers/proxy.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { settledNow } from '../helpers/wait.js';

const USERS = 6;
const RUNS_PER_USER = 5;
const gates = new Gates();

describe(`client SDK on ${primaryBackend}`, () => {
  let server: TestServer;
  let proxy: CuttableProxy;
  beforeAll(async () => {
    server = await startServer(primaryBackend, { agents: [scriptedAgent, floodAgent(60, 2048), pacedAgent(80, 15), gates.agent()] });
    proxy = await startProxy(Number(new URL(server.url).port));
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  const clientFor = (token: string) =>
    new AgentwireClient({
      url: `${proxy.url.replace('http', 'ws')}/v1/ws`,
      token,
      WebSocket: WebSocket as unknown as WebSocketFactory,
      minDelayMs: 20,
      maxDelayMs: 200,
      requestTimeoutMs: 2_000,
    });

  it('asks, streams a run as an async iterable, and acks it', async () => {
    const u = await server.register();
    const client = clientFor(u.token);
    const states: string[] = [];
    client.onStateChange((s) => states.push(s));
    await client.connect();
    const run = await client.ask('What do I spend?');
    const events: RunEvent[] = [];
    for await (const e of run) events.push(e);
    expect(events[0]?.type).toBe('agent_started');
    expect(events.at(-1)?.type).toBe('agent_completed');
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    // The ack reached the server: the run is no longer listed on a new connection.
    const second = clientFor(u.token);
    await second.connect();
    await waitUntil(async () => {
      const again = clientFor(u.token);
      await again.connect();
      const listed = again.sessionRuns.some((r) => r.runId === run.runId);
      again.close();
      return !listed;
    });
    expect(states).toEqual(['connecting', 'open']);
    client.close();
    second.close();
  });

  it(`${USERS} users × ${RUNS_PER_USER} runs with connections cut at random: every event once, in order`, async () => {
    const users = await Promise.all(Array.from({ length: USERS }, () => server.register()));
    const clients = users.map((u) => clientFor(u.token));
    await Promise.all(clients.map((c) => c.connect()));

    let cutting = true;
    let cutConnections = 0;
    const cutter = (async () => {
      while (cutting) {
        await new Promise((r) => setTimeout(r, 30 + Math.random() * 170));
        if (cutting) cutConnections += proxy.cut();
      }
    })();

    const runs = await Promise.all(
      clients.flatMap((c, i) =>
        Array.from({ length: RUNS_PER_USER }, async (_, r) => {
          const run = await c.ask(`question ${i}.${r}`, { agent: ['paced', 'flood', 'scripted'][r % 3] });
          const seen: number[] = [];
          for await (const e of run) seen.push(e.seq);
          return { seen, terminal: run.terminal };
        }),
      ),
    );
    cutting = false;
    await cutter;

    const events = runs.reduce((n, r) => n + r.seen.length, 0);
    const reconnects = clients.reduce((n, c) => n + c.stats.connects - 1, 0);
    console.info(
      `client cut test: ${runs.length} runs, ${events} events, ${proxy.cuts} cuts (${cutConnections} connections), ${reconnects} reconnects, ` +
        `${clients.reduce((n, c) => n + c.stats.duplicatesDropped, 0)} duplicates dropped by the client, 0 missing`,
    );
    for (const r of runs) {
      expect(r.seen).toEqual(r.seen.map((_, i) => i + 1));
      expect(r.terminal?.type).toBe('agent_completed');
    }
    expect(runs).toHaveLength(USERS * RUNS_PER_USER);
    expect(reconnects).toBeGreaterThan(0);
    // The server never sent a duplicate: the client had none to drop.
    expect(clients.reduce((n, c) => n + c.stats.duplicatesDropped, 0)).toBe(0);
    for (const c of clients) c.close();
  });

  it('reports a refusal as an AgentwireError with its code', async () => {
    const u = await server.register();
    const client = clientFor(u.token);
    await client.connect();
    await expect(client.ask('x', { agent: 'no-such-agent' })).rejects.toMatchObject({ code: 'bad_request' });
    client.close();
  });

  describe('close()', () => {
    /** What a promise settled with (its value, or the error it rejected with) by the next macrotask. */
    const outcome = (p: Promise<unknown>) => settledNow(p.then((v) => ({ resolved: v }), (err: unknown) => err));

    it('rejects a pending connect() with AgentwireError code closed', async () => {
      const u = await server.register();
      const client = clientFor(u.token);
      const connecting = client.connect();
      client.close();
      const got = await outcome(connecting);
      expect(got).toBeInstanceOf(AgentwireError);
      expect(got).toMatchObject({ code: 'closed' });
      expect(client.state).toBe('closed');
    });

    it('rejects a pending ask() with closed, and an ask() made after close() at once', async () => {
      const u = await server.register();
      const client = clientFor(u.token);
      await client.connect();
      // Sent, but its run_accepted cannot arrive before close() runs.
      const asking = client.ask('What do I spend?');
      client.close();
      const got = await outcome(asking);
      expect(got).toBeInstanceOf(AgentwireError);
      expect(got).toMatchObject({ code: 'closed' });
      expect(await outcome(client.ask('after close'))).toMatchObject({ code: 'closed' });
    });

    it("ends an open run's iteration after the events received and rejects its done; the run goes on on the server", async () => {
      const u = await server.register();
      const client = clientFor(u.token);
      await client.connect();
      const key = `held-${u.userId}`;
      const run = await client.ask(key, { agent: 'gated' });
      const seen: RunEvent[] = [];
      let thinking!: () => void;
      const thought = new Promise<void>((resolve) => (thinking = resolve));
      const iterating = (async () => {
        for await (const e of run) {
          seen.push(e);
          if (e.type === 'agent_thinking') thinking();
        }
        return 'ended';
      })();
      await thought;
      client.close();
      expect(await outcome(iterating)).toEqual({ resolved: 'ended' });
      expect(seen.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking']);
      expect(run.terminal).toBeUndefined();
      await expect(run.done).rejects.toMatchObject({ code: 'closed' });

      // Closing the client stopped following the run, not the run.
      gates.release(key);
      const again = clientFor(u.token);
      await again.connect();
      const followed = again.follow(run.runId, run.threadId, run.lastSeq);
      expect((await followed.done).type).toBe('agent_completed');
      again.close();
    });
  });
});

async function waitUntil(probe: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not reached');
}
