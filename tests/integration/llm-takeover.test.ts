// A run of the LLM agent taken over after its worker died. A model does not answer twice the same,
// so the agent does not replay itself: it asks the runtime for what the crashed attempt stored
// (`ctx.resume()`), rebuilds the conversation from it, and redoes only the model call that was in
// flight. A stored tool result goes back to the model as it was (the tool is not called again); a
// half-streamed answer is continued, not restarted; a tool call the crash left open runs again
// under its own toolCallId before the model is asked. A sub-agent's stored answer is reused
// without running it; one cut off goes on under the same call, replaying the sub-agent.
// The usage of the run counts the crashed attempt's model calls too, estimated from their stored
// text and marked as estimated.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CONTINUE, createClient, createLlmAgent, estimateTokens, openAiStream } from '../../src/agents/llm/index.js';
import { AgentRegistry } from '../../src/agents/registry.js';
import type { Agent, Tool } from '../../src/agents/types.js';
import { migrate } from '../../src/store/migrations.js';
import { backends } from '../helpers/backends.js';
import { openTestDb, type TestDb } from '../helpers/db.js';
import { takeOver as takeOverRun } from '../helpers/crashed-run.js';
import { answer, FakeProvider } from '../helpers/llm-provider.js';
import { grammarOf, itTakesOverLikeAModel } from '../helpers/model-takeover.js';

let calls = 0;
/** The toolCallId of each execution: a call run again must keep its id (the tool's idempotency key). */
let ids: string[] = [];
const counted: Tool<{ n: number }, { doubled: number }> = {
  name: 'double',
  description: 'doubles n; counts its calls',
  input: z.strictObject({ n: z.number() }),
  async execute({ n }, ctx) {
    calls++;
    ids.push(ctx.toolCallId);
    return { doubled: n * 2 };
  },
};

describe.each(backends)('LLM agent takeover on %s', (backend) => {
  let t: TestDb;
  const provider = new FakeProvider();
  beforeAll(async () => {
    await provider.start();
    t = await openTestDb(backend);
    await migrate(t.db);
  });
  afterAll(async () => {
    await t?.dispose();
    await provider.stop();
  });
  beforeEach(() => {
    calls = 0;
    ids = [];
    subRuns = 0;
  });

  // A sub-agent that must not run again when its answer is stored: it counts its runs.
  let subRuns = 0;
  const helper: Agent = {
    name: 'helper',
    description: 'test sub-agent',
    async run(ctx) {
      subRuns++;
      await ctx.think('helping');
      return { text: `helped with ${ctx.input.text}` };
    },
  };

  const agent = () =>
    createLlmAgent({
      name: 'llm',
      description: 'test',
      stream: openAiStream(createClient({ baseURL: provider.url, apiKey: undefined, maxRetries: 0, timeoutMs: 10_000 })),
      model: 'gpt-4o-mini',
      tools: [counted as Tool],
      subAgents: [{ name: 'helper', description: 'helps' }],
      maxSteps: 4,
      historyTokens: 1000,
      streamRetries: 0,
      streamIdleMs: 10_000,
      coalesce: { maxDelayMs: 10, maxChars: 100 },
    });

  /** A run whose first attempt stored `events` and died, taken over by a second attempt. */
  async function takeOver(events: Array<Record<string, unknown>>, runAs?: Agent) {
    const sentBefore = provider.requests.length;
    const agents = new AgentRegistry().addAgent(runAs ?? agent()).addAgent(helper).addTool(counted as Tool);
    const { outcome, all, stored } = await takeOverRun(t.db, { agent: 'llm', text: 'double 1, please', events, agents });
    return { outcome, all, before: stored.length, sent: provider.requests.slice(sentBefore).map((r) => r.body.messages) };
  }

  it('usage counts the crashed attempt’s model calls, estimated from their stored text, and says it is estimated', async () => {
    // The new call reports 100 input and 2 output tokens.
    provider.enqueue({ chunks: answer([' 2', ', done.'], [100, 2]) });
    const thinking = 'I will double 1.';
    const half = 'The result is';
    const { all, sent } = await takeOver([
      { type: 'agent_thinking', text: thinking },
      { type: 'tool_executing', toolCallId: 'c1', tool: 'double', args: { n: 1 } },
      { type: 'tool_completed', toolCallId: 'c1', tool: 'double', ok: true, result: { doubled: 2 }, durationMs: 1 },
      { type: 'agent_output', text: half },
    ]);
    const done = all.at(-1)!;
    expect(done.type).toBe('agent_completed');
    if (done.type !== 'agent_completed') return;
    // Two calls of the crashed attempt: the one that asked for the tool, sent the question; the
    // one cut off mid-answer, sent the question, the tool call and its result.
    const question = estimateTokens('double 1, please');
    const firstOut = estimateTokens(thinking + 'double' + '{"n":1}');
    const secondIn = question + estimateTokens('double' + '{"n":1}') + estimateTokens('{"doubled":2}');
    const secondOut = estimateTokens(half);
    expect(sent[0]!.slice(0, 3).map((m) => m.content)).toEqual(['double 1, please', null, '{"doubled":2}']);
    expect(done.usage).toMatchObject({ inputTokens: 100 + question + secondIn, outputTokens: 2 + firstOut + secondOut, estimated: true });
    expect(done.usage?.costUsd).toBeGreaterThan(0);
  });

  it('usage counts a stored sub-agent answer’s usage; a run without a takeover is not marked estimated', async () => {
    provider.enqueue({ chunks: answer(['Done.'], [100, 2]) });
    const { all } = await takeOver([
      { type: 'tool_executing', toolCallId: 'a1', tool: 'ask_helper', args: { task: 'x' } },
      { type: 'tool_completed', toolCallId: 'a1', tool: 'ask_helper', ok: true, result: { text: 'helped with x', usage: { inputTokens: 500, outputTokens: 50 } }, durationMs: 1 },
    ]);
    const question = estimateTokens('double 1, please');
    const askOut = estimateTokens('ask_helper' + '{"task":"x"}');
    expect(all.at(-1)).toMatchObject({ type: 'agent_completed', usage: { inputTokens: 100 + 500 + question, outputTokens: 2 + 50 + askOut, estimated: true } });

    provider.enqueue({ chunks: answer(['Fresh.'], [100, 2]) });
    const fresh = await takeOver([]);
    expect((fresh.all.at(-1) as { usage?: unknown }).usage).toEqual({ inputTokens: 100, outputTokens: 2, costUsd: expect.any(Number) });
  });

  itTakesOverLikeAModel({
    provider,
    takeOver: (events) => takeOver(events),
    calls: () => calls,
    ids: () => ids,
    toolMessage: JSON.stringify({ doubled: 2 }),
    preamble: [],
    question: 'double 1, please',
    continueText: CONTINUE,
  });

  it('a sub-agent whose answer is stored is not run again; one the crash interrupted goes on under the same call, its open call under its own id', async () => {
    provider.enqueue({ chunks: answer(['Done.']) });
    const stored = await takeOver([
      { type: 'tool_executing', toolCallId: 'a1', tool: 'ask_helper', args: { task: 'x' } },
      { type: 'agent_thinking', text: 'helping', agent: 'helper' },
      { type: 'tool_completed', toolCallId: 'a1', tool: 'ask_helper', ok: true, result: { text: 'helped with x' }, durationMs: 1 },
    ]);
    expect(subRuns).toBe(0);
    expect(stored.sent[0]!.at(-1)).toEqual({ role: 'tool', tool_call_id: 'a1', content: 'helped with x' });
    expect(stored.all.slice(stored.before).map((e) => e.type)).toEqual(['agent_output', 'agent_completed']);

    // Found by the crash sweep: closed as interrupted, the sub-agent was asked again under a new
    // call, and its tool calls were made again under new ids.
    provider.enqueue({ chunks: answer(['Helped.']) });
    const open = await takeOver([
      { type: 'tool_executing', toolCallId: 'a1', tool: 'ask_helper', args: { task: 'x' } },
      { type: 'tool_executing', toolCallId: 'a2', tool: 'double', args: { n: 1 }, agent: 'helper' },
    ]);
    const after = open.all.slice(open.before);
    expect(after.map((e) => [e.type, 'toolCallId' in e ? e.toolCallId : undefined])).toEqual([
      ['tool_completed', 'a2'],
      ['agent_thinking', undefined],
      ['tool_completed', 'a1'],
      ['agent_output', undefined],
      ['agent_completed', undefined],
    ]);
    expect(after[0]).toMatchObject({ ok: true, agent: 'helper' });
    expect(after[2]).toMatchObject({ ok: true, result: { text: 'helped with x' } });
    expect(ids).toEqual(['a2']);
    expect(open.all.filter((e) => e.type === 'tool_executing').map((e) => (e as { toolCallId: string }).toolCallId)).toEqual(['a1', 'a2']);
    expect(open.sent[0]!.at(-1)).toEqual({ role: 'tool', tool_call_id: 'a1', content: 'helped with x' });
    expect(grammarOf(open.all)).toBe('completed');
  });

  it('why resume(): an agent that replays itself against stored events breaks when the model answers differently', async () => {
    // Streams its (new, different) answer as if the run were fresh, as a model's second answer would be.
    const naive: Agent = {
      name: 'llm',
      description: 'test',
      async run(ctx) {
        await ctx.output('You spend $5.');
        return { text: 'You spend $5.' };
      },
    };
    const { outcome, all } = await takeOver([{ type: 'agent_output', text: 'Your sp' }], naive);
    // The stored half answer and the new one do not add up to the agent's answer: refused, not sent.
    expect(outcome).toBe('failed');
    expect(all.at(-1)).toMatchObject({ type: 'agent_error', code: 'grammar_violation' });
  });
});
