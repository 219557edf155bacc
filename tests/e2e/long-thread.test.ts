// A thread longer than the history budget: the agent gets the newest turns, oldest first, ending
// with the turn just before its run; earlier turns are the ones left out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, ChatMessage } from '../../src/agents/types.js';
import { HISTORY_MESSAGES } from '../../src/runs/threads.js';
import { insertMessage } from '../../src/store/messages.js';
import { insertRun } from '../../src/store/run-status.js';
import { primaryBackend } from '../helpers/backends.js';
import type { TestClient } from '../helpers/client.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';

const TURNS = 500;

const histories = new Map<string, readonly ChatMessage[]>();
const captureAgent: Agent = {
  name: 'capture',
  description: 'test agent: keeps the history it was given',
  async run(ctx) {
    histories.set(ctx.runId, ctx.history);
    return { text: `answer ${ctx.input.text}` };
  },
};

/** Ids that sort in the order given: runs created in one transaction share created_at, and id breaks the tie. */
const orderedId = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

describe(`a ${TURNS}-turn thread on ${primaryBackend}`, () => {
  let server: TestServer;
  let user: TestUser;
  let c: TestClient;
  beforeAll(async () => {
    server = await startServer(primaryBackend, { agents: [captureAgent] });
    user = await server.register();
    c = await server.connect(user.token);
    await c.waitType('session_ready');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(`gives the agent the newest ${HISTORY_MESSAGES} messages, in order, ending with the turn before its run`, async () => {
    // Turn 1 through the runtime; turns 2…500 stored directly, as completed runs with their messages.
    const first = await c.request('question 1', { agent: 'capture' });
    await c.runEvents(first.runId as string);
    const threadId = first.threadId as string;
    const db = server.runtime.database;
    await db.transaction(async (tx) => {
      for (let n = 2; n <= TURNS; n++) {
        await insertRun(tx, { id: orderedId(n), threadId, userId: user.userId, agent: 'capture', input: { text: `question ${n}` }, status: 'pending' });
      }
      // Finished runs: stored as waiting, then marked done (nothing schedules a pending run here).
      await tx.query(`UPDATE runs SET status = 'completed', finished_at = now() WHERE thread_id = $1 AND id <> $2`, [threadId, first.runId]);
    });
    // Every answer stored before every question (two transactions, two times): the messages' times
    // say nothing of the conversation's order, which is the runs' order.
    for (const role of ['assistant', 'user'] as const) {
      await db.transaction(async (tx) => {
        for (let n = TURNS; n >= 2; n--) {
          await insertMessage(tx, { id: crypto.randomUUID(), threadId, runId: orderedId(n), role, content: role === 'user' ? `question ${n}` : `answer question ${n}` });
        }
      });
    }

    const current = await c.request(`question ${TURNS + 1}`, { agent: 'capture', threadId });
    const events = await c.runEvents(current.runId as string);
    expect(events.at(-1)?.type).toBe('agent_completed');

    const history = histories.get(current.runId as string);
    const firstTurn = TURNS - HISTORY_MESSAGES / 2 + 1;
    const expected = Array.from({ length: HISTORY_MESSAGES / 2 }, (_, i) => [
      { role: 'user', content: `question ${firstTurn + i}` },
      { role: 'assistant', content: `answer question ${firstTurn + i}` },
    ]).flat();
    expect(history?.length).toBe(HISTORY_MESSAGES);
    expect(history?.at(-1)).toEqual({ role: 'assistant', content: `answer question ${TURNS}` });
    expect(history).toEqual(expected);
  });
});
