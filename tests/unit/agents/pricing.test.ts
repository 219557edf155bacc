import { describe, it, expect } from 'vitest';
import { costUsd, findModel, listModels, pricing, tierRank } from '../../../src/agents/pricing/index.js';

describe('pricing table', () => {
  it('holds ~20 models across providers and tiers, with a date and a note', () => {
    const all = listModels();
    expect(all.length).toBeGreaterThanOrEqual(20);
    expect(new Set(all.map((m) => m.provider))).toEqual(new Set(['openai', 'anthropic', 'google', 'mistral']));
    expect(new Set(all.map((m) => m.tier))).toEqual(new Set(['frontier', 'balanced', 'small']));
    expect(pricing.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(pricing.note).toMatch(/list prices/);
    expect(listModels({ tier: 'small' }).every((m) => m.tier === 'small')).toBe(true);
    expect(tierRank('frontier')).toBeLessThan(tierRank('small'));
  });

  it('finds models tolerant of case, provider prefixes and snapshot suffixes', () => {
    expect(findModel('gpt-4o')?.id).toBe('gpt-4o');
    expect(findModel('GPT-4o-2024-08-06')?.id).toBe('gpt-4o');
    expect(findModel('gpt-4o-mini-2024-07-18')?.id).toBe('gpt-4o-mini');
    expect(findModel('gpt-4.1-2025-04-14')?.id).toBe('gpt-4.1');
    expect(findModel('claude-sonnet-4-5-20250929')?.id).toBe('claude-sonnet-4-5');
    expect(findModel('claude-3-5-haiku@20241022')?.id).toBe('claude-3-5-haiku');
    expect(findModel('models/gemini-2.0-flash-001')?.id).toBe('gemini-2.0-flash');
    expect(findModel('openai/o3')?.id).toBe('o3');
    expect(findModel('mistral-large-latest')?.id).toBe('mistral-large');
    expect(findModel(' Claude Sonnet 4.5 ')?.id).toBe('claude-sonnet-4-5');
  });

  it('does not confuse a model with its smaller sibling, and reports unknown models as undefined', () => {
    expect(findModel('gpt-4o-mini')?.id).toBe('gpt-4o-mini');
    expect(findModel('gpt-5-nano')?.id).toBe('gpt-5-nano');
    expect(findModel('llama-3-70b')).toBeUndefined();
    expect(findModel('')).toBeUndefined();
    expect(costUsd('my-finetune', 1000, 1000)).toBeUndefined();
  });

  it('computes cost per 1M tokens', () => {
    expect(costUsd('gpt-4o', 1_000_000, 0)).toBeCloseTo(2.5, 10);
    expect(costUsd('gpt-4o', 0, 1_000_000)).toBeCloseTo(10, 10);
    expect(costUsd('gpt-4o-2024-08-06', 2_000_000, 500_000)).toBeCloseTo(5 + 5, 10);
    expect(costUsd('claude-opus-4-1', 1000, 100)).toBeCloseTo((1000 * 15 + 100 * 75) / 1e6, 12);
    expect(costUsd('gpt-4.1-nano', 0, 0)).toBe(0);
  });
});
