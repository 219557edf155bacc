// Tool `usage_summary`: where the money goes, from the caller's own usage records.
import { z } from 'zod';
import type { Tool } from '../types.js';
import type { UsageReader } from '../../usage/types.js';
import { daySchema } from '../../usage/schema.js';
import { pricing, type Tier } from '../pricing/index.js';
import { aggregateLines, cmp, periodOf, readRange, toMonthly, type Period, type UsageLine } from './aggregate.js';
import { round4 } from './format.js';

export const usageSummaryInput = z.strictObject({
  from: daySchema.optional(),
  to: daySchema.optional(),
  feature: z.string().trim().min(1).max(100).optional(),
});
export type UsageSummaryInput = z.infer<typeof usageSummaryInput>;

interface Totals {
  requests: number;
  inputTokens: number;
  outputTokens: number;
}
export interface SummaryLine extends UsageLine {
  monthlyCostUsd: number | null;
  monthlyRequests: number;
}
export interface FeatureSpend extends Totals {
  feature: string;
  models: string[];
  costUsd: number;
  monthlyCostUsd: number;
  /** Share of the priced total; 0 when nothing could be priced. */
  share: number;
}
export interface ModelSpend extends Totals {
  model: string;
  known: boolean;
  tier: Tier | null;
  costUsd: number | null;
  monthlyCostUsd: number | null;
}
export interface UsageSummary {
  filter: UsageSummaryInput;
  period: Period | null;
  records: number;
  totals: Totals & { costUsd: number; monthlyCostUsd: number; unpricedRequests: number };
  byFeature: FeatureSpend[];
  byModel: ModelSpend[];
  lines: SummaryLine[];
  unknownModels: string[];
  pricingAsOf: string;
}

function add(t: Totals, l: Totals): void {
  t.requests += l.requests;
  t.inputTokens += l.inputTokens;
  t.outputTokens += l.outputTokens;
}

export const usageSummaryTool: Tool<UsageSummaryInput, UsageSummary, { usage: UsageReader }> = {
  name: 'usage_summary',
  description:
    'Aggregates your usage records (optional day range and feature) and prices them at list price: totals, spend by feature and by model, days covered.',
  input: usageSummaryInput,
  async execute(input, ctx) {
    let records = await readRange(ctx, input.from, input.to);
    const wanted = input.feature?.toLowerCase();
    if (wanted) records = records.filter((r) => r.feature.toLowerCase() === wanted);
    const period = periodOf(records);
    const lines = aggregateLines(records);
    const totals = { requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, monthlyCostUsd: 0, unpricedRequests: 0 };
    const features = new Map<string, FeatureSpend>();
    const models = new Map<string, ModelSpend>();
    for (const l of lines) {
      add(totals, l);
      totals.costUsd += l.costUsd ?? 0;
      if (l.costUsd === null) totals.unpricedRequests += l.requests;
      const f = features.get(l.feature) ?? { feature: l.feature, models: [], requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, monthlyCostUsd: 0, share: 0 };
      add(f, l);
      f.costUsd += l.costUsd ?? 0;
      f.models.push(l.model);
      features.set(l.feature, f);
      const m = models.get(l.model) ?? { model: l.model, known: l.known, tier: l.tier, requests: 0, inputTokens: 0, outputTokens: 0, costUsd: l.known ? 0 : null, monthlyCostUsd: null };
      add(m, l);
      if (m.costUsd !== null) m.costUsd += l.costUsd ?? 0;
      models.set(l.model, m);
    }
    const byCost = (a: { costUsd: number | null; requests: number }, b: { costUsd: number | null; requests: number }) =>
      (b.costUsd ?? -1) - (a.costUsd ?? -1) || b.requests - a.requests;
    const byFeature = [...features.values()]
      .map((f) => ({ ...f, costUsd: round4(f.costUsd), monthlyCostUsd: round4(toMonthly(f.costUsd, period)), share: totals.costUsd > 0 ? f.costUsd / totals.costUsd : 0 }))
      .sort((a, b) => byCost(a, b) || cmp(a.feature, b.feature));
    const byModel = [...models.values()]
      .map((m) => ({ ...m, costUsd: m.costUsd === null ? null : round4(m.costUsd), monthlyCostUsd: m.costUsd === null ? null : round4(toMonthly(m.costUsd, period)) }))
      .sort((a, b) => byCost(a, b) || cmp(a.model, b.model));
    return {
      filter: input,
      period,
      records: records.length,
      totals: { ...totals, costUsd: round4(totals.costUsd), monthlyCostUsd: round4(toMonthly(totals.costUsd, period)) },
      byFeature,
      byModel,
      lines: lines.map((l) => ({
        ...l,
        costUsd: l.costUsd === null ? null : round4(l.costUsd),
        monthlyCostUsd: l.costUsd === null ? null : round4(toMonthly(l.costUsd, period)),
        monthlyRequests: Math.round(toMonthly(l.requests, period)),
      })),
      unknownModels: byModel.filter((m) => !m.known).map((m) => m.model),
      pricingAsOf: pricing.asOf,
    };
  },
};
