// One streamed model call against a local server speaking the provider's SSE chunk format: how
// deltas are assembled, and how each failure is classified. Real HTTP on 127.0.0.1, no database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../../src/agents/llm/index.js';
import { StreamDropped, streamStep } from '../../../src/agents/llm/provider.js';
import { AgentFailure } from '../../../src/agents/types.js';
import { chunk, FakeProvider } from '../../helpers/llm-provider.js';

describe('streamStep', () => {
  const provider = new FakeProvider();
  let client: ReturnType<typeof createClient>;
  beforeAll(async () => {
    await provider.start();
    client = createClient({ baseURL: provider.url, apiKey: 'k', maxRetries: 1, timeoutMs: 5_000 });
  });
  afterAll(async () => {
    await provider.stop();
  });

  const step = (idleMs = 5_000, signal = new AbortController().signal) => {
    const seen: string[] = [];
    const p = streamStep(client, { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, signal, idleMs, {
      reasoning: (t) => seen.push(`r:${t}`),
      content: (t) => seen.push(`c:${t}`),
    });
    return { p, seen };
  };

  it('assembles two parallel tool calls from interleaved argument deltas, Ollama-style reasoning, and usage', async () => {
    const [a0, ...aRest] = chunk.toolCall(0, 'call_a', 'usage_summary', ['{"fr', 'om":"2026-01-01"}']);
    const [b0, ...bRest] = chunk.toolCall(1, 'call_b', 'pricing_lookup', ['{"models":', '["gpt-4o"]}']);
    const ollama = { ...chunk.text(''), choices: [{ index: 0, delta: { reasoning: 'thinking…' }, finish_reason: null }] };
    provider.enqueue({ chunks: [chunk.role(), ollama, a0!, b0!, aRest[0]!, bRest[0]!, aRest[1]!, bRest[1]!, chunk.finish('tool_calls'), chunk.usage(11, 7)] });
    const { p, seen } = step();
    expect(await p).toEqual({
      content: '',
      toolCalls: [
        { id: 'call_a', name: 'usage_summary', arguments: '{"from":"2026-01-01"}' },
        { id: 'call_b', name: 'pricing_lookup', arguments: '{"models":["gpt-4o"]}' },
      ],
      usage: { inputTokens: 11, outputTokens: 7 },
    });
    expect(seen).toEqual(['r:thinking…']);
    expect(provider.requests.at(-1)!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('a stream that goes silent past the idle limit is dropped, with what arrived already handed on', async () => {
    provider.enqueue({ chunks: [chunk.role(), chunk.text('Hel'), chunk.text('lo'), chunk.finish('stop')], holdAfter: 2 });
    const { p, seen } = step(200);
    await expect(p).rejects.toBeInstanceOf(StreamDropped);
    expect(seen).toEqual(['c:Hel']);
    provider.release();
  });

  it('a damaged chunk before finish_reason is a broken stream; after it, the answer is whole without usage', async () => {
    provider.enqueue({ chunks: [chunk.role(), chunk.text('Hal'), chunk.damagedUsage(), chunk.text('f'), chunk.finish('stop')] });
    const before = await step().p.catch((e: unknown) => e);
    expect(before).toBeInstanceOf(StreamDropped);
    expect((before as Error).message).toBe('a chunk of the stream was damaged');
    provider.enqueue({ chunks: [chunk.role(), chunk.text('Whole'), chunk.finish('stop'), chunk.damagedUsage()] });
    expect(await step().p).toEqual({ content: 'Whole', toolCalls: [] });
  });

  it('a 400 is the caller’s fault: not retryable, not retried', async () => {
    const before = provider.requests.length;
    provider.enqueue({ status: 400 });
    const err = await step().p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentFailure);
    expect(err).toMatchObject({ code: 'model_failed', retryable: false });
    expect(provider.requests.length - before).toBe(1);
  });

  it('an unreachable provider is retryable', async () => {
    const dead = createClient({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k', maxRetries: 0, timeoutMs: 5_000 });
    const err = await streamStep(dead, { model: 'm', messages: [] }, new AbortController().signal, 1000, { reasoning: () => undefined, content: () => undefined }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'model_unavailable', retryable: true });
  });

  it('an aborted run rejects with the run’s reason, not a provider error', async () => {
    provider.enqueue({ chunks: [chunk.role(), chunk.text('a'), chunk.finish('stop')], holdAfter: 2 });
    const controller = new AbortController();
    const { p } = step(5_000, controller.signal);
    await provider.held();
    const reason = new Error('cancelled by user');
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
    provider.release();
  });
});
