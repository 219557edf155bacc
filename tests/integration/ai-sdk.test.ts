// agentwire/ai-sdk: an agent written with the Vercel AI SDK (ai 6, @ai-sdk/openai-compatible) on the
// real runtime, against the local server speaking OpenAI's Chat Completions stream. Reasoning
// becomes agent_thinking, text agent_output (coalesced), tool calls go through ctx.callTool, so
// they are validated, stored and, after a takeover, not made again: the stored result goes back to
// the model as it was, and an answer the crash cut off is continued, not restarted.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { aiSdkAgent, CONTINUE } from '../../src/ai-sdk/index.js';
import { buildRegistry } from '../../src/agents/registry.js';
import { defineTool, type Tool } from '../../src/index.js';
import { createLogger } from '../../src/log/logger.js';
import { migrate } from '../../src/store/migrations.js';
import { createHarness, type Harness } from '../../src/testing/index.js';
import { backends } from '../helpers/backends.js';
import { takeOver as takeOverRun } from '../helpers/crashed-run.js';
import { openTestDb, type TestDb } from '../helpers/db.js';
import { answer, callTool, chunk, FakeProvider } from '../helpers/llm-provider.js';
import { itTakesOverLikeAModel } from '../helpers/model-takeover.js';

let calls = 0;
const double = defineTool({
  name: 'double',
  description: 'Doubles n (counts its calls).',
  input: z.strictObject({ n: z.number() }),
  async execute({ n }) {
    calls++;
    return { doubled: n * 2 };
  },
});

const provider = new FakeProvider();
const agent = () =>
  aiSdkAgent({
    name: 'sdk',
    description: 'An AI SDK agent',
    model: createOpenAICompatible({ name: 'local', baseURL: provider.url })('gpt-4o-mini'),
    system: 'Be brief.',
    tools: [double as Tool],
    maxSteps: 4,
    coalesce: { maxDelayMs: 10, maxChars: 100 },
    settings: { maxRetries: 0 },
  });

beforeAll(async () => {
  await provider.start();
});
afterAll(async () => {
  await provider.stop();
});
beforeEach(() => {
  calls = 0;
  provider.drop();
});

describe('agentwire/ai-sdk on the embedded runtime', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ agents: [agent()], tools: [double] });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reasoning → agent_thinking, the tool through ctx.callTool, text → agent_output, usage from the provider', async () => {
    const first = provider.requests.length;
    provider.enqueue(
      { chunks: [chunk.role(), chunk.reasoning('Doubling 21 '), chunk.reasoning('with the tool.'), ...callTool('call_1', 'double', { n: 21 }, [50, 5]).slice(1)] },
      { chunks: answer(['It ', 'is ', '42.'], [80, 3]) },
    );
    const run = await h.run({ agent: 'sdk', text: 'double 21' });
    expect(run.verdict).toEqual({ ok: true, state: 'completed' });
    expect(run.events.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_output', 'agent_completed']);
    expect(run.events[1]).toMatchObject({ text: 'Doubling 21 with the tool.' });
    expect(run.events[2]).toMatchObject({ tool: 'double', args: { n: 21 } });
    expect(run.events[3]).toMatchObject({ tool: 'double', ok: true, result: { doubled: 42 } });
    expect(run.terminal).toMatchObject({ type: 'agent_completed', text: 'It is 42.', usage: { inputTokens: 130, outputTokens: 8 } });
    expect(calls).toBe(1);
    const sent = provider.requests.slice(first).map((r) => r.body);
    expect(sent[0]!.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'double 21' },
    ]);
    expect(sent[0]!.tools?.map((t) => t.function.name)).toEqual(['double']);
    expect(sent[1]!.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_1', content: '{"doubled":42}' });
  });

  it('arguments the schema refuses are a recorded failed call; the model is told and answers', async () => {
    provider.enqueue({ chunks: callTool('call_bad', 'double', { n: 'twenty' }) }, { chunks: answer(['Sorry.']) });
    const run = await h.run({ agent: 'sdk', text: 'double twenty' });
    expect(run.events.map((e) => e.type)).toEqual(['agent_started', 'tool_executing', 'tool_completed', 'agent_output', 'agent_completed']);
    expect(run.events[2]).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid arguments: n: /) });
    expect(calls).toBe(0);
    expect(JSON.parse(provider.requests.at(-1)!.body.messages.at(-1)!.content!)).toMatchObject({ error: expect.stringMatching(/^invalid arguments/) });
    expect(run.verdict.ok).toBe(true);
  });

  it('a provider that keeps failing ends the run with agent_error model_unavailable, its text not repeated', async () => {
    provider.enqueue({ status: 503, body: { error: { message: 'overloaded; key sk-secret-123' } } });
    const run = await h.run({ agent: 'sdk', text: 'hello' });
    expect(run.terminal).toMatchObject({ type: 'agent_error', code: 'model_unavailable', retryable: true });
    expect(JSON.stringify(run.events)).not.toContain('sk-secret');
  });
});

describe.each(backends)('agentwire/ai-sdk takeover on %s', (backend) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(backend);
    await migrate(t.db);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  /** A run whose first attempt stored `events` and died, taken over by a second attempt. */
  async function takeOver(events: Array<Record<string, unknown>>) {
    const sentBefore = provider.requests.length;
    const { registry } = buildRegistry({ agents: [agent()], tools: [double], log: createLogger('silent') });
    const { outcome, all, stored } = await takeOverRun(t.db, { agent: 'sdk', text: 'double 1, please', events, agents: registry });
    return { outcome, all, before: stored.length, sent: provider.requests.slice(sentBefore).map((r) => r.body.messages) };
  }

  itTakesOverLikeAModel({
    provider,
    takeOver,
    calls: () => calls,
    preamble: [{ role: 'system', content: 'Be brief.' }],
    question: 'double 1, please',
    continueText: CONTINUE,
  });
});
