// Many users, two sockets each, all asking at once: every socket gets each of its user's runs
// exactly once, in order, and nothing of anyone else's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedAgent } from '../helpers/agents.js';
import { primaryBackend } from '../helpers/backends.js';
import type { TestClient } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const USERS = 12;
const SOCKETS_PER_USER = 2;
const RUNS_PER_SOCKET = 2;

describe(`isolation on ${primaryBackend}`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(primaryBackend, { agents: [scriptedAgent] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(`${USERS} users × ${SOCKETS_PER_USER} sockets × ${RUNS_PER_SOCKET} runs: each socket carries exactly its user's runs, once, in order`, async () => {
    const users = await Promise.all(Array.from({ length: USERS }, () => server.register()));
    const sockets: Array<{ userId: string; client: TestClient }> = [];
    for (const u of users) {
      for (let i = 0; i < SOCKETS_PER_USER; i++) {
        const client = await server.connect(u.token);
        await client.waitType('session_ready');
        sockets.push({ userId: u.userId, client });
      }
    }

    // Everyone asks at once, from every socket, half with the analyst and half with the scripted agent.
    const accepted = await Promise.all(
      sockets.flatMap(({ userId, client }, s) =>
        Array.from({ length: RUNS_PER_SOCKET }, async (_, r) => {
          const f = await client.request(`question ${s}.${r}`, r % 2 === 0 ? {} : { agent: 'scripted' });
          expect(f.type).toBe('run_accepted');
          return { userId, runId: f.runId as string };
        }),
      ),
    );
    const runsOf = new Map<string, string[]>();
    for (const a of accepted) runsOf.set(a.userId, [...(runsOf.get(a.userId) ?? []), a.runId]);

    let delivered = 0;
    for (const { userId, client } of sockets) {
      const own = runsOf.get(userId) ?? [];
      // Every run started while the socket was open reaches it, to its terminal event.
      for (const runId of own) await client.runEvents(runId);
      const runFrames = client.frames.filter((f) => typeof f.seq === 'number');
      // Isolation: no frame of a run that is not this user's.
      const foreign = runFrames.filter((f) => !own.includes(f.runId as string));
      expect(foreign).toEqual([]);
      // Exactly once, in order: seqs 1..n per run.
      for (const runId of own) {
        const seqs = client.eventsOf(runId).map((e) => e.seq);
        expect(seqs).toEqual(seqs.map((_, i) => i + 1));
        expect(client.eventsOf(runId).at(-1)?.type).toBe('agent_completed');
      }
      delivered += runFrames.length;
    }
    // Both sockets of a user received the same events.
    for (let i = 0; i < sockets.length; i += SOCKETS_PER_USER) {
      const a = sockets[i]!.client.frames.filter((f) => typeof f.seq === 'number').map((f) => `${String(f.runId)}:${String(f.seq)}`).sort();
      const b = sockets[i + 1]!.client.frames.filter((f) => typeof f.seq === 'number').map((f) => `${String(f.runId)}:${String(f.seq)}`).sort();
      expect(a).toEqual(b);
    }
    expect(accepted).toHaveLength(USERS * SOCKETS_PER_USER * RUNS_PER_SOCKET);
    console.info(
      `isolation: ${USERS} users, ${sockets.length} sockets, ${accepted.length} runs, ${delivered} events delivered, 0 foreign, 0 duplicate, 0 missing`,
    );
  });
});
