// Every endpoint and every frame probed with another user's ids: Mallory names Alice's threads and
// runs (finished and still running) everywhere an id goes. Each answer is `not_found` (404 on
// HTTP), identical to the answer for an id that does not exist, and Alice's data is untouched.
// Usage data: the analyst, asked by Mallory, reads Mallory's records only.
// (tests/e2e/refusals.test.ts and http.test.ts hold the first, narrower versions of these probes.)
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agents/types.js';
import { primaryBackend } from '../helpers/backends.js';
import type { Frame, TestClient } from '../helpers/client.js';
import type { TestServer, TestUser } from '../helpers/server.js';
import { ready } from './support.js';

let release: (() => void) | undefined;
export const holdAgent: Agent = {
  name: 'hold',
  description: 'test agent: runs until released or aborted',
  async run(ctx) {
    await ctx.think('holding');
    await new Promise<void>((resolve) => {
      release = resolve;
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    return { text: 'released' };
  },
};

export function describeCrossUser(getServer: () => TestServer): void {
describe(`cross-user probes on ${primaryBackend}`, () => {
  let server: TestServer;
  let alice: TestUser;
  let mallory: TestUser;
  let a: TestClient;
  let m: TestClient;
  const SECRET = `alice-private-${randomUUID()}`;
  const FEATURE = `alice_feature_${randomUUID().slice(0, 8)}`;
  let done: { runId: string; threadId: string };
  let live: { runId: string; threadId: string };

  beforeAll(async () => {
    server = getServer();
    [alice, mallory] = await Promise.all([server.register(), server.register()]);
    [a, m] = await Promise.all([server.connect(alice.token), server.connect(mallory.token)]);
    await Promise.all([ready(a), ready(m)]);
    const csv = ['day,feature,model,requests,input_tokens,output_tokens', `2025-01-01,${FEATURE},gpt-4o,100000,900000000,90000000`, ''].join('\n');
    const up = await fetch(`${server.url}/v1/usage`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'text/csv' }, body: csv });
    expect(up.status).toBe(201);
    const acc = await a.request(`${SECRET} which feature costs the most?`, { agent: 'analyst' });
    await a.runEvents(acc.runId as string);
    done = { runId: acc.runId as string, threadId: acc.threadId as string };
    expect(JSON.stringify(a.eventsOf(done.runId))).toContain(FEATURE);
    const held = await a.request(`${SECRET} hold`, { agent: 'hold' });
    live = { runId: held.runId as string, threadId: held.threadId as string };
    await a.waitFor((f) => f.runId === live.runId && f.type === 'agent_thinking');
  });
  afterAll(async () => {
    release?.();
  });

  const get = async (path: string, token: string) => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.text() };
  };

  it('HTTP: every route that takes an id answers 404 not_found for Alice\'s, exactly as for an id that does not exist', async () => {
    for (const { runId, threadId } of [done, live]) {
      const ghost = randomUUID();
      const probes: Array<[string, string]> = [
        [`/v1/threads/${threadId}`, `/v1/threads/${ghost}`],
        [`/v1/runs/${runId}/events`, `/v1/runs/${ghost}/events`],
        [`/v1/runs/${runId}/events?after=0&limit=1000`, `/v1/runs/${ghost}/events?after=0&limit=1000`],
        // A thread id where a run id goes, and the reverse, name nothing either.
        [`/v1/runs/${threadId}/events`, `/v1/runs/${ghost}/events`],
        [`/v1/threads/${runId}`, `/v1/threads/${ghost}`],
      ];
      for (const [theirs, none] of probes) {
        const x = await get(theirs, mallory.token);
        const y = await get(none, mallory.token);
        expect(x.status).toBe(404);
        expect(JSON.parse(x.body)).toEqual(JSON.parse(y.body));
        expect(x.body).not.toContain(SECRET);
      }
    }
    const list = await get('/v1/threads?limit=100', mallory.token);
    expect(list.status).toBe(200);
    expect(list.body).not.toContain(done.threadId);
    expect(list.body).not.toContain(live.threadId);
    // Fields that would name another user are refused, not obeyed.
    const pw = await fetch(`${server.url}/v1/auth/password`, {
      method: 'POST',
      headers: { authorization: `Bearer ${mallory.token}` },
      body: JSON.stringify({ currentPassword: mallory.password, newPassword: 'taken over at last', userId: alice.userId }),
    });
    expect(pw.status).toBe(400);
    expect((await get('/v1/threads', alice.token)).status).toBe(200);
  });

  it('frames: agent_request, resume, ack and cancel_run with Alice\'s ids are not_found, like ids that do not exist', async () => {
    const answer = async (frame: Record<string, unknown>): Promise<Frame> => {
      const from = m.frames.length;
      m.send(frame);
      return m.waitFor((f) => f.type === 'error' || f.type === 'run_accepted', from);
    };
    const strip = (f: Frame) => ({ type: f.type, code: f.code, message: f.message });
    for (const { runId, threadId } of [done, live]) {
      const ghost = randomUUID();
      for (const onBusy of ['reject', 'enqueue', 'interrupt']) {
        const x = await answer({ type: 'agent_request', requestId: randomUUID(), input: { text: 'mine now' }, threadId, onBusy, agent: 'hold' });
        const y = await answer({ type: 'agent_request', requestId: randomUUID(), input: { text: 'mine now' }, threadId: ghost, onBusy, agent: 'hold' });
        expect(x.code).toBe('not_found');
        expect(strip(x)).toEqual(strip(y));
      }
      for (const make of [
        (id: string) => ({ type: 'resume', runs: [{ runId: id, afterSeq: 0 }] }),
        (id: string) => ({ type: 'ack', runId: id, seq: 1 }),
        (id: string) => ({ type: 'cancel_run', runId: id }),
      ]) {
        for (const id of [runId, threadId]) {
          const x = await answer(make(id));
          const y = await answer(make(ghost));
          expect(x).toMatchObject({ code: 'not_found', runId: id });
          expect(strip(x)).toEqual(strip(y));
        }
      }
    }
    // Alice's held run was neither cancelled nor interrupted; her socket saw nothing of Mallory.
    const t = (await (await fetch(`${server.url}/v1/threads/${live.threadId}`, { headers: { authorization: `Bearer ${alice.token}` } })).json()) as {
      runs: Array<{ runId: string; status: string }>;
    };
    expect(t.runs).toHaveLength(1);
    expect(t.runs[0]?.status).toBe('running');
    expect(m.frames.some((f) => f.type !== 'error' && (f.runId === live.runId || f.runId === done.runId))).toBe(false);
    expect(JSON.stringify(m.frames)).not.toContain(SECRET);
  });

  it("usage data: Mallory's analyst reads Mallory's records, never Alice's upload", async () => {
    const acc = await m.request('which feature costs the most? list every feature', { agent: 'analyst' });
    expect(acc.type).toBe('run_accepted');
    const events = await m.runEvents(acc.runId as string);
    expect(events.at(-1)?.type).toBe('agent_completed');
    expect(JSON.stringify(events)).not.toContain(FEATURE);
    expect(JSON.stringify(m.frames)).not.toContain(SECRET);
  });
});
}
