import { describe, it, expect } from 'vitest';
import type { UsageRecord } from '../../../src/usage/types.js';
import { costProjectionTool, pricingLookupTool, usageSummaryTool } from '../../../src/agents/analyst/index.js';
import { toolContext } from './fake-context.js';

// Two days (2025-11-01..02, span 2 → ×15 to a month) of round numbers priced by hand.
const records: UsageRecord[] = [
  { day: '2025-11-01', feature: 'intent', model: 'gpt-4o', requests: 1000, inputTokens: 1_000_000, outputTokens: 0 }, // $2.50
  { day: '2025-11-02', feature: 'intent', model: 'GPT-4o-2024-08-06', requests: 1000, inputTokens: 1_000_000, outputTokens: 0 }, // $2.50
  { day: '2025-11-02', feature: 'chat', model: 'claude-sonnet-4-5', requests: 10, inputTokens: 0, outputTokens: 1_000_000 }, // $15
  { day: '2025-11-02', feature: 'chat', model: 'my-finetune', requests: 5, inputTokens: 10, outputTokens: 10 },
];
const ctx = toolContext(records);

describe('usage_summary', () => {
  it('aggregates by feature and model, merging snapshot names, and flags unknown models', async () => {
    const s = await usageSummaryTool.execute(usageSummaryTool.input.parse({}), ctx);
    expect(s.period).toEqual({ from: '2025-11-01', to: '2025-11-02', spanDays: 2, daysWithData: 2 });
    expect(s.records).toBe(4);
    expect(s.totals).toMatchObject({ requests: 2015, costUsd: 20, monthlyCostUsd: 300, unpricedRequests: 5 });
    expect(s.byFeature.map((f) => [f.feature, f.costUsd, f.monthlyCostUsd, f.share])).toEqual([
      ['chat', 15, 225, 0.75],
      ['intent', 5, 75, 0.25],
    ]);
    expect(s.byModel.find((m) => m.model === 'gpt-4o')).toMatchObject({ known: true, tier: 'frontier', requests: 2000, costUsd: 5 });
    expect(s.byModel.find((m) => m.model === 'my-finetune')).toMatchObject({ known: false, costUsd: null });
    expect(s.unknownModels).toEqual(['my-finetune']);
  });

  it('filters by day range and feature', async () => {
    const s = await usageSummaryTool.execute(usageSummaryTool.input.parse({ from: '2025-11-02', feature: 'INTENT' }), ctx);
    expect(s.records).toBe(1);
    expect(s.totals.costUsd).toBe(2.5);
    expect(s.period?.spanDays).toBe(1);
  });

  it('rejects a bad day in its input and answers an empty set without crashing', async () => {
    expect(usageSummaryTool.input.safeParse({ from: '2025-13-01' }).success).toBe(false);
    const s = await usageSummaryTool.execute(usageSummaryTool.input.parse({}), toolContext([]));
    expect(s.period).toBeNull();
    expect(s.totals.monthlyCostUsd).toBe(0);
  });
});

describe('pricing_lookup', () => {
  it('returns prices and cheaper alternatives in the same or a lower tier', async () => {
    const r = await pricingLookupTool.execute(pricingLookupTool.input.parse({ models: ['gpt-4o-2024-08-06', 'nope'] }), ctx);
    const [hit, miss] = r.results;
    expect(hit?.model).toMatchObject({ id: 'gpt-4o', inputPerMTok: 2.5, outputPerMTok: 10, tier: 'frontier' });
    expect(hit?.alternatives.length).toBeGreaterThan(0);
    for (const a of hit!.alternatives) {
      expect(a.blendedPerMTok).toBeLessThan(hit!.model!.blendedPerMTok);
      expect(a.savingPct).toBeGreaterThan(0);
    }
    expect(miss).toEqual({ query: 'nope', found: false, alternatives: [] });
    expect(r.listing).toBeUndefined();
  });

  it('lists a tier cheapest first, and small models have only small alternatives', async () => {
    const r = await pricingLookupTool.execute(pricingLookupTool.input.parse({ tier: 'small', models: ['gpt-4o-mini'], maxAlternatives: 30 }), ctx);
    expect(r.listing?.every((m) => m.tier === 'small')).toBe(true);
    const prices = r.listing!.map((m) => m.blendedPerMTok);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
    expect(r.results[0]!.alternatives.every((a) => a.tier === 'small')).toBe(true);
  });
});

describe('cost_projection', () => {
  it('re-prices the moved share on the observed token mix', async () => {
    const input = costProjectionTool.input.parse({
      moves: [
        { feature: 'intent', fromModel: 'gpt-4o', toModel: 'gpt-4.1-nano', share: 1 }, // $5 → $0.20 per period
        { feature: 'chat', fromModel: 'claude-sonnet-4-5', toModel: 'claude-haiku-4-5', share: 0.5 }, // $7.50 → $2.50
        { feature: 'chat', fromModel: 'gpt-4o', toModel: 'gpt-4o-mini', share: 1 }, // no such usage
      ],
    });
    const p = await costProjectionTool.execute(input, ctx);
    expect(p.monthlyBeforeUsd).toBe(300);
    expect(p.moves[0]).toMatchObject({ applied: true, monthlyBeforeUsd: 75, monthlyAfterUsd: 3, monthlySavingUsd: 72 });
    expect(p.moves[1]).toMatchObject({ applied: true, monthlyBeforeUsd: 112.5, monthlyAfterUsd: 37.5, monthlySavingUsd: 75 });
    expect(p.moves[2]).toMatchObject({ applied: false, monthlySavingUsd: 0 });
    expect(p.monthlySavingUsd).toBe(147);
    expect(p.monthlyAfterUsd).toBe(153);
    expect(p.savingPct).toBe(0.49);
    expect(p.unpricedRequests).toBe(5);
  });

  it('validates moves: known target, share in 0..1, shares of one line at most 1', () => {
    const ok = { feature: 'intent', fromModel: 'gpt-4o', toModel: 'gpt-4.1-nano', share: 0.6 };
    expect(costProjectionTool.input.safeParse({ moves: [ok] }).success).toBe(true);
    expect(costProjectionTool.input.safeParse({ moves: [{ ...ok, toModel: 'nope' }] }).success).toBe(false);
    expect(costProjectionTool.input.safeParse({ moves: [{ ...ok, share: 1.2 }] }).success).toBe(false);
    expect(costProjectionTool.input.safeParse({ moves: [ok, { ...ok, fromModel: 'gpt-4o-2024-08-06' }] }).success).toBe(false);
  });
});
