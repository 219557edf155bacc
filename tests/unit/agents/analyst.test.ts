import { describe, it, expect } from 'vitest';
import { createAnalystAgent, analystTools } from '../../../src/agents/analyst/index.js';
import { fmtUsd } from '../../../src/agents/analyst/format.js';
import { sampleUsage } from '../../../src/usage/sample.js';
import { fakeContext, NOW, type Step } from './fake-context.js';

const agent = createAnalystAgent();
const sample = sampleUsage('user-1', NOW);

interface Data {
  intent: string;
  moves: { feature: string; fromModel: string; toModel: string; share: number; monthlySavingUsd: number }[];
  monthly: { beforeUsd: number; afterUsd: number; savingUsd: number };
  spendByFeature: { feature: string; monthlyUsd: number; share: number }[];
}

async function ask(text: string, records = sample, history: { role: 'user' | 'assistant'; content: string }[] = []) {
  const ctx = fakeContext(text, records, { history });
  const result = await agent.run(ctx);
  return { result, data: result.data as Data, steps: ctx.steps, tools: ctx.steps.filter((s) => s.kind === 'tool').map((s) => (s as { name: string }).name) };
}

function thinksBeforeAndBetweenTools(steps: Step[]) {
  expect(steps[0]?.kind).toBe('think');
  steps.forEach((s, i) => {
    if (s.kind === 'tool' && i > 0) expect(steps[i - 1]?.kind).toBe('think');
  });
}

describe('analyst agent', () => {
  it('is named analyst, says it is not an LLM, and has three tools', () => {
    expect(agent.name).toBe('analyst');
    expect(agent.description).toMatch(/not an LLM/);
    expect(analystTools.map((t) => t.name)).toEqual(['usage_summary', 'pricing_lookup', 'cost_projection']);
  });

  it('finds savings on the sample: summary → pricing → projection, with numbers that agree', async () => {
    const { result, data, steps, tools } = await ask('How can we cut our LLM costs?');
    expect(tools).toEqual(['usage_summary', 'pricing_lookup', 'cost_projection']);
    thinksBeforeAndBetweenTools(steps);
    expect(steps.filter((s) => s.kind === 'think').length).toBeGreaterThanOrEqual(5);
    expect(steps.some((s) => s.kind === 'output')).toBe(false);
    expect(result.usage).toEqual({ inputTokens: 0, outputTokens: 0, costUsd: 0 });
    expect(data.intent).toBe('save');
    expect(data.monthly.savingUsd).toBeGreaterThan(0);
    expect(data.monthly.afterUsd).toBeCloseTo(data.monthly.beforeUsd - data.monthly.savingUsd, 2);
    expect(result.text).toContain(`saving of **${fmtUsd(data.monthly.savingUsd)}/month**`);
    expect(result.text).toContain(fmtUsd(data.monthly.beforeUsd));
    // Frontier models off classification and reranking; the code reviewer keeps its strong model.
    expect(data.moves).toContainEqual(expect.objectContaining({ feature: 'intent_classifier', fromModel: 'gpt-4.1', toModel: 'gpt-4.1-nano', share: 1 }));
    expect(data.moves).toContainEqual(expect.objectContaining({ feature: 'doc_search_rerank', fromModel: 'gpt-4o' }));
    expect(data.moves.some((m) => m.feature === 'code_review')).toBe(false);
    expect(result.text).toMatch(/\*\*code_review\*\* on `claude-opus-4-1`/);
    expect(result.text).toMatch(/## Caveats[\s\S]*list prices[\s\S]*eval/);
    const moved = data.moves.reduce((s, m) => s + m.monthlySavingUsd, 0);
    expect(moved).toBeCloseTo(data.monthly.savingUsd, 2);
  });

  it('answers "where does the money go" with the breakdown table and shares', async () => {
    const { result, data } = await ask('Where does the money go?');
    expect(data.intent).toBe('breakdown');
    expect(result.text).toMatch(/## Where the money goes\n\n\| Feature \| Models \| Requests \/ month \| Spend \/ month \| Share \|/);
    const top = data.spendByFeature[0]!;
    expect(result.text).toContain(`| \`${top.feature}\` |`);
    expect(result.text).toContain(fmtUsd(top.monthlyUsd));
    expect(data.spendByFeature.reduce((s, f) => s + f.share, 0)).toBeCloseTo(1, 3);
    expect(result.text).toContain(fmtUsd(data.monthly.savingUsd));
  });

  it('focuses on a named feature, and follows up from history', async () => {
    const first = await ask('How can we save on support_chat?');
    expect(first.data.moves.map((m) => m.feature)).toEqual(['support_chat']);
    expect(first.result.text).toContain('### `support_chat`');
    const follow = await ask('and for ticket summary?', sample, [
      { role: 'user', content: 'How can we save on support_chat?' },
      { role: 'assistant', content: first.result.text },
    ]);
    expect(follow.data.intent).toBe('save');
    expect(follow.data.moves.map((m) => m.feature)).toEqual(['ticket_summary']);
  });

  it('keeps a quality-critical feature unless asked, then stays in its tier', async () => {
    const { data, result } = await ask('Can we make code_review cheaper?');
    expect(data.moves).toEqual([expect.objectContaining({ feature: 'code_review', fromModel: 'claude-opus-4-1', toModel: 'claude-opus-4-5' })]);
    expect(result.text).toContain('same tier: frontier');
  });

  it('describes a named model with its price and alternatives', async () => {
    const { result } = await ask('is gpt-4o worth it?');
    expect(result.text).toMatch(/### `gpt-4o`: GPT-4o\n\nList price \$2\.50 \/ \$10\.00/);
  });

  it('answers an unrelated question politely with what it can do, plus the overview', async () => {
    const { result, data, tools } = await ask('What is the capital of France?');
    expect(data.intent).toBe('offtopic');
    expect(result.text).toMatch(/^I'm \*\*analyst\*\*, a deterministic cost analyst \(not an LLM\)/);
    expect(result.text).toContain('## Where the money goes');
    expect(tools.length).toBeGreaterThanOrEqual(1);
  });

  it('explains how to upload when there is no usage, and still uses the pricing tool', async () => {
    const { result, tools, steps, data } = await ask('how much do we spend?', []);
    expect(tools).toEqual(['usage_summary', 'pricing_lookup']);
    thinksBeforeAndBetweenTools(steps);
    expect(result.text).toContain('POST /v1/usage');
    expect(result.text).toContain('day,feature,model,requests,input_tokens,output_tokens');
    expect(result.text).toContain('## Cheapest list prices per tier');
    expect(data.monthly.savingUsd).toBe(0);
  });

  it('reports unknown models without crashing', async () => {
    const records = [...sample.slice(0, 20), { day: sample[0]!.day, feature: 'support_chat', model: 'acme-llm-7b', requests: 50, inputTokens: 5000, outputTokens: 500 }];
    const { result } = await ask('where does the money go', records);
    expect(result.text).toMatch(/Not priced \(not in the pricing table\): `acme-llm-7b`, 50 requests/);
  });

  it('stops when the signal is aborted: before the run, and between tools', async () => {
    const pre = new AbortController();
    pre.abort();
    const ctx0 = fakeContext('save?', sample, { controller: pre });
    await expect(agent.run(ctx0)).rejects.toThrow();
    expect(ctx0.steps).toEqual([]);

    const mid = new AbortController();
    const ctx = fakeContext('save?', sample, {
      controller: mid,
      onStep: (s) => {
        if (s.kind === 'tool' && s.name === 'pricing_lookup') mid.abort(new Error('cancelled by user'));
      },
    });
    await expect(agent.run(ctx)).rejects.toThrow('cancelled by user');
    expect(ctx.steps.some((s) => s.kind === 'tool' && s.name === 'cost_projection')).toBe(false);
  });

  it('is deterministic', async () => {
    const a = await ask('How can we cut our LLM costs?');
    const b = await ask('How can we cut our LLM costs?');
    expect(b.result).toEqual(a.result);
    expect(b.steps.map((s) => (s.kind === 'think' ? s.text : s.kind))).toEqual(a.steps.map((s) => (s.kind === 'think' ? s.text : s.kind)));
  });
});
