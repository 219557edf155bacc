// The LLM agent over Anthropic's Messages API, against a local server speaking its stream events
// (`event: content_block_delta` …): a tool_use step and a streamed answer, what the model is sent
// (system apart, tool_use and tool_result blocks), usage and cost, 529 overloaded, a cut stream,
// `event: error` inside the stream, a damaged `message_stop` after a finished answer.
// The runtime is the unit test double that runs the analyst's real tools on in-memory records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analystTools } from '../../../src/agents/analyst/index.js';
import { anthropicStream, createAnthropicClient, createLlmAgent } from '../../../src/agents/llm/index.js';
import type { UsageRecord } from '../../../src/usage/types.js';
import { anthropic, FakeProvider } from '../../helpers/llm-provider.js';
import { fakeContext } from './fake-context.js';

const records: UsageRecord[] = [
  { day: '2026-11-01', feature: 'code_review', model: 'claude-opus-4-1', requests: 100, inputTokens: 2_000_000, outputTokens: 200_000 },
  { day: '2026-11-02', feature: 'support_chat', model: 'gpt-4o-mini', requests: 1000, inputTokens: 1_000_000, outputTokens: 100_000 },
];

describe('LLM agent on the Anthropic Messages API', () => {
  const provider = new FakeProvider();
  beforeAll(async () => {
    await provider.start();
  });
  afterAll(async () => {
    await provider.stop();
  });

  const agent = (streamRetries = 0) =>
    createLlmAgent({
      name: 'claude',
      description: 'test',
      stream: anthropicStream(createAnthropicClient({ baseURL: provider.url.replace(/\/v1$/, ''), apiKey: 'sk-ant-test', maxRetries: 1, timeoutMs: 5_000 })),
      model: 'claude-haiku-4-5',
      systemPrompt: 'Be brief.',
      tools: analystTools,
      subAgents: [],
      maxSteps: 4,
      historyTokens: 1000,
      streamRetries,
      streamIdleMs: 5_000,
      retryBaseMs: 1,
      coalesce: { maxDelayMs: 10_000, maxChars: 10_000 },
    });

  it('calls a tool from input_json_delta pieces, streams the answer, and reports usage and cost', async () => {
    const start = provider.requests.length;
    provider.enqueue(
      {
        format: 'anthropic',
        chunks: [anthropic.start(1200), ...anthropic.textBlock(0, ['Reading your usage.']), ...anthropic.toolUse(1, 'toolu_1', 'usage_summary', ['{"from":"2026-', '11-01"}']), ...anthropic.end('tool_use', 30)],
      },
      { format: 'anthropic', chunks: [anthropic.start(2000), ...anthropic.textBlock(0, ['Most goes ', 'to code_review.']), ...anthropic.end('end_turn', 12)] },
    );
    const ctx = fakeContext('Where does my money go?', records);
    const result = await agent().run(ctx);
    expect(ctx.steps.map((s) => s.kind)).toEqual(['output', 'tool', 'output']);
    expect(ctx.steps[1]).toMatchObject({ kind: 'tool', name: 'usage_summary', args: { from: '2026-11-01' } });
    expect(result.text).toBe('Reading your usage.Most goes to code_review.');
    // 3,200 input and 42 output tokens of Claude Haiku 4.5 at $1 / $5 per million.
    expect(result.usage).toEqual({ inputTokens: 3200, outputTokens: 42, costUsd: 0.00341 });

    const [one, two] = provider.requests.slice(start);
    expect(one!.path).toBe('/v1/messages');
    // This version of the Anthropic client sends the key as a bearer token.
    expect(one!.authorization).toBe('Bearer sk-ant-test');
    expect(one!.body).toMatchObject({ model: 'claude-haiku-4-5', system: 'Be brief.', max_tokens: 4096, stream: true });
    expect((one!.body as unknown as { tools: Array<{ name: string; input_schema: { type: string } }> }).tools.map((t) => [t.name, t.input_schema.type])).toEqual([
      ['usage_summary', 'object'],
      ['pricing_lookup', 'object'],
      ['cost_projection', 'object'],
    ]);
    const sent = two!.body.messages as unknown as Array<{ role: string; content: Array<Record<string, unknown>> }>;
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent[1]!.content).toEqual([
      { type: 'text', text: 'Reading your usage.' },
      { type: 'tool_use', id: 'toolu_1', name: 'usage_summary', input: { from: '2026-11-01' } },
    ]);
    expect(sent[2]!.content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'toolu_1' });
    expect(JSON.parse(sent[2]!.content[0]!.content as string)).toEqual(ctx.steps[1]!.kind === 'tool' ? ctx.steps[1]!.result : undefined);
  });

  it('529 overloaded after the retries: model_unavailable, retryable', async () => {
    provider.enqueue({ status: 529, retryAfterMs: 1 }, { status: 529, retryAfterMs: 1 });
    await expect(agent().run(fakeContext('hello', records))).rejects.toMatchObject({ code: 'model_unavailable', retryable: true });
  });

  it('a stream cut before message_stop is a broken stream, not a short answer', async () => {
    provider.enqueue({ format: 'anthropic', chunks: [anthropic.start(10), ...anthropic.textBlock(0, ['Half an ', 'answer']), ...anthropic.end('end_turn', 3)], cutAfter: 3 });
    await expect(agent().run(fakeContext('hello', records))).rejects.toMatchObject({ code: 'model_unavailable', retryable: true });
  });

  it('an authentication error inside the stream: model_failed, not retryable, not retried, no provider text in the message', async () => {
    const start = provider.requests.length;
    const refusal = { format: 'anthropic' as const, chunks: [anthropic.start(10), anthropic.error('authentication_error', 'invalid x-api-key: sk-ant-test')] };
    provider.enqueue(refusal, refusal);
    const err = await agent(1).run(fakeContext('hello', records)).catch((e: unknown) => e);
    provider.drop();
    expect(err).toMatchObject({ code: 'model_failed', retryable: false });
    expect(provider.requests.length - start).toBe(1);
    expect((err as Error).message).not.toMatch(/sk-ant|x-api-key|authentication_error|\{/);
  });

  it('an overloaded error inside the stream is a broken stream, retried; its message carries none of the provider’s JSON', async () => {
    const start = provider.requests.length;
    const overloaded = { format: 'anthropic' as const, chunks: [anthropic.start(10), anthropic.error('overloaded_error', 'Overloaded')] };
    provider.enqueue(overloaded, overloaded);
    const err = await agent(1).run(fakeContext('hello', records)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'model_unavailable', retryable: true });
    expect(provider.requests.length - start).toBe(2);
    expect((err as Error).message).not.toMatch(/overloaded|\{/i);
  });

  it('a damaged message_stop after stop_reason: the answer is complete, no second call', async () => {
    const start = provider.requests.length;
    provider.enqueue(
      { format: 'anthropic', chunks: [anthropic.start(10), ...anthropic.textBlock(0, ['Whole ', 'answer.']), anthropic.end('end_turn', 3)[0]!, anthropic.damagedStop()] },
      { format: 'anthropic', chunks: [anthropic.start(10), ...anthropic.textBlock(0, [' More.']), ...anthropic.end('end_turn', 2)] },
    );
    const result = await agent(1).run(fakeContext('hello', records)).catch((e: unknown) => e);
    const requests = provider.requests.length - start;
    provider.drop();
    expect(result).toEqual({ text: 'Whole answer.', usage: { inputTokens: 10, outputTokens: 3, costUsd: 0.000025 } });
    expect(requests).toBe(1);
  });
});
