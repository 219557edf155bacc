// Text the database cannot store (NUL, lone UTF-16 surrogates): a client's is refused with
// `bad_request` saying why; an agent's, a tool's or a model's is stored with each such character
// replaced by U+FFFD, and the run completes (docs/protocol.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Agent, Tool } from '../../src/agents/types.js';
import type { RunEvent } from '../../src/protocol/events.js';
import { primaryBackend } from '../helpers/backends.js';
import type { TestClient } from '../helpers/client.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';

const R = '\uFFFD';
const DIRTY = 'nul\u0000 high\ud800 low\udc00 pair\ud83d\udd25';
const CLEAN = `nul${R} high${R} low${R} pair\ud83d\udd25`;

const dirtyTool: Tool<{ q: string }, unknown> = {
  name: 'dirty_lookup',
  description: 'test tool: answers with text and keys the database cannot store',
  input: z.strictObject({ q: z.string() }),
  async execute({ q }) {
    return { [`key\u0000`]: DIRTY, echo: q };
  },
};

/** Stands for a model that streams NUL and lone surrogates: thinks, calls a tool, streams, answers. */
const dirtyAgent: Agent = {
  name: 'dirty',
  description: 'test agent: produces text the database cannot store as it is',
  async run(ctx) {
    await ctx.think(DIRTY);
    await ctx.callTool('dirty_lookup', { q: DIRTY });
    await ctx.output(DIRTY);
    return { text: DIRTY, data: { note: DIRTY } };
  },
};

describe(`text the database cannot store on ${primaryBackend}`, () => {
  let server: TestServer;
  let user: TestUser;
  let c: TestClient;
  beforeAll(async () => {
    server = await startServer(primaryBackend, { agents: [dirtyAgent], tools: [dirtyTool] });
    user = await server.register();
    c = await server.connect(user.token);
    await c.waitType('session_ready');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ['a NUL character', 'hello\u0000world', 'agent_request: input.text: must not contain a NUL character (U+0000)'],
    ['a lone high surrogate', 'hello \ud800', 'agent_request: input.text: must not contain a lone UTF-16 surrogate (not valid Unicode)'],
    ['a lone low surrogate', '\udfff hello', 'agent_request: input.text: must not contain a lone UTF-16 surrogate (not valid Unicode)'],
  ])('refuses an agent_request whose text holds %s with bad_request, saying why', async (_what, text, message) => {
    const answer = await c.request(text, { agent: 'dirty', requestId: `bad-${Math.random()}` });
    expect(answer).toMatchObject({ type: 'error', code: 'bad_request', message });
    c.send({ type: 'ping', id: 'after-refusal' });
    await c.waitFor((f) => f.type === 'pong' && f.id === 'after-refusal');
  });

  it('refuses a requestId holding NUL with bad_request', async () => {
    const answer = await c.request('hello', { agent: 'dirty', requestId: 'req\u0000' });
    expect(answer).toMatchObject({ type: 'error', code: 'bad_request', message: 'agent_request: requestId: must not contain a NUL character (U+0000)' });
  });

  it('stores the output of an agent, a tool and a model with U+FFFD in place of NUL and lone surrogates, and completes', async () => {
    const acc = await c.request('make a mess', { agent: 'dirty' });
    expect(acc.type).toBe('run_accepted');
    const runId = acc.runId as string;
    const live = await c.runEvents(runId);
    expect(live.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_output', 'agent_completed']);
    const byType = <T extends RunEvent['type']>(events: RunEvent[], type: T) => events.find((e) => e.type === type) as Extract<RunEvent, { type: T }>;
    expect(byType(live, 'agent_thinking').text).toBe(CLEAN);
    expect(byType(live, 'tool_executing').args).toEqual({ q: CLEAN });
    expect(byType(live, 'tool_completed').result).toEqual({ [`key${R}`]: CLEAN, echo: CLEAN });
    expect(byType(live, 'agent_output').text).toBe(CLEAN);
    expect(byType(live, 'agent_completed')).toMatchObject({ text: CLEAN, data: { note: CLEAN } });

    // The stored log is what the socket carried, and the thread keeps the answer.
    const headers = { authorization: `Bearer ${user.token}` };
    const log = (await (await fetch(`${server.url}/v1/runs/${runId}/events`, { headers })).json()) as { events: RunEvent[] };
    expect(log.events).toEqual(live);
    const thread = (await (await fetch(`${server.url}/v1/threads/${acc.threadId as string}`, { headers })).json()) as {
      messages: Array<{ role: string; content: string }>;
    };
    expect(thread.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'make a mess'],
      ['assistant', CLEAN],
    ]);
  });

  it('titles a thread without cutting an emoji in half', async () => {
    // 76 characters, then an emoji whose two halves straddle the 77-character cut.
    const text = `${'x'.repeat(76)}\ud83d\udd25${'y'.repeat(20)}`;
    const acc = await c.request(text, { agent: 'dirty' });
    await c.runEvents(acc.runId as string);
    const page = (await (await fetch(`${server.url}/v1/threads`, { headers: { authorization: `Bearer ${user.token}` } })).json()) as {
      threads: Array<{ threadId: string; title: string }>;
    };
    const title = page.threads.find((t) => t.threadId === acc.threadId)?.title;
    expect(title).toBe(`${'x'.repeat(76)}…`);
  });

  it('refuses a usage upload whose labels hold NUL or a lone surrogate with 400, saying why', async () => {
    const upload = (feature: string) =>
      fetch(`${server.url}/v1/usage`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: JSON.stringify([{ day: '2025-01-02', feature, model: 'gpt-4o', requests: 1, inputTokens: 1, outputTokens: 1 }]),
      });
    const lone = await upload('chat\ud800');
    expect(lone.status).toBe(400);
    expect(((await lone.json()) as { error: { code: string; message: string } }).error).toEqual({
      code: 'bad_request',
      message: '0.feature: must not contain a lone UTF-16 surrogate (not valid Unicode)',
    });
    const nul = await upload('chat\u0000');
    expect(nul.status).toBe(400);
    expect(((await nul.json()) as { error: { code: string } }).error.code).toBe('bad_request');
  });
});
