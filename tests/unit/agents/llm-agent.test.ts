// The LLM agent's loop over the OpenAI format, with the unit test double as its runtime: the step
// limit, a tool it was not given, and a tool error handed back to the model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analystTools } from '../../../src/agents/analyst/index.js';
import { createClient, createLlmAgent, openAiStream } from '../../../src/agents/llm/index.js';
import { answer, callTool, FakeProvider } from '../../helpers/llm-provider.js';
import { fakeContext } from './fake-context.js';

describe('LLM agent loop', () => {
  const provider = new FakeProvider();
  beforeAll(async () => {
    await provider.start();
  });
  afterAll(async () => {
    await provider.stop();
  });

  const agent = (maxSteps: number) =>
    createLlmAgent({
      name: 'llm',
      description: 'test',
      stream: openAiStream(createClient({ baseURL: provider.url, apiKey: undefined, maxRetries: 0, timeoutMs: 5_000 })),
      model: 'local-model',
      tools: analystTools.filter((t) => t.name === 'pricing_lookup'),
      subAgents: [],
      maxSteps,
      historyTokens: 1000,
      streamRetries: 0,
      streamIdleMs: 5_000,
      coalesce: { maxDelayMs: 10_000, maxChars: 10_000 },
    });

  it('stops at the step limit with a non-retryable step_limit', async () => {
    provider.enqueue({ chunks: callTool('a', 'pricing_lookup', { models: ['gpt-4o'] }) }, { chunks: callTool('b', 'pricing_lookup', { models: ['gpt-4o'] }) });
    const ctx = fakeContext('loop forever', []);
    await expect(agent(2).run(ctx)).rejects.toMatchObject({ code: 'step_limit', retryable: false });
    expect(ctx.steps.filter((s) => s.kind === 'tool')).toHaveLength(2);
  });

  it('a tool it was not given goes to the runtime, which refuses it; the model gets "no such tool"; an unpriced model has usage without cost', async () => {
    const start = provider.requests.length;
    provider.enqueue({ chunks: callTool('x', 'usage_summary', {}) }, { chunks: answer(['Sorry.'], [50, 2]) });
    const a = agent(4);
    expect(a.tools).toEqual(['pricing_lookup']);
    const ctx = fakeContext('read my usage', [], { tools: a.tools! });
    const result = await a.run(ctx);
    expect(ctx.steps.filter((s) => s.kind === 'tool')).toEqual([{ kind: 'tool', name: 'usage_summary', args: {} }]);
    expect(provider.requests[start]!.body.tools?.map((t) => t.function.name)).toEqual(['pricing_lookup']);
    expect(JSON.parse(provider.requests[start + 1]!.body.messages.at(-1)!.content!)).toEqual({ error: 'no such tool' });
    expect(result).toEqual({ text: 'Sorry.', usage: { inputTokens: 150, outputTokens: 12 } });
  });
});
