// Tool `cost_projection`: monthly cost before and after moving shares of features' calls to other
// models, priced on the token mix actually observed for each (feature, model).
import { z } from 'zod';
import type { Tool } from '../types.js';
import type { UsageReader } from '../../usage/types.js';
import { daySchema } from '../../usage/schema.js';
import { findModel, priceTokens, pricing } from '../pricing/index.js';
import { aggregateLines, modelKey, readRange, periodOf, toMonthly, type Period } from './aggregate.js';
import { round2 } from './format.js';

const moveSchema = z.strictObject({
  feature: z.string().trim().min(1).max(100),
  fromModel: z.string().trim().min(1).max(100),
  toModel: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine((id) => findModel(id) !== undefined, 'is not in the pricing table'),
  share: z.number().min(0).max(1),
});
export type Move = z.infer<typeof moveSchema>;

export const costProjectionInput = z.strictObject({
  from: daySchema.optional(),
  to: daySchema.optional(),
  moves: z
    .array(moveSchema)
    .max(50)
    .superRefine((moves, ctx) => {
      // Shares of one (feature, model) add up: moving 70% and 60% of the same calls is not possible.
      const sums = new Map<string, number>();
      for (const m of moves) {
        const key = `${m.feature.toLowerCase()}\u0000${modelKey(m.fromModel).key}`;
        sums.set(key, (sums.get(key) ?? 0) + m.share);
        if (sums.get(key)! > 1 + 1e-9) {
          ctx.addIssue({ code: 'custom', message: `shares moved from ${m.fromModel} in ${m.feature} add up to more than 1` });
          return;
        }
      }
    }),
});
export type CostProjectionInput = z.infer<typeof costProjectionInput>;

export interface MoveProjection extends Move {
  applied: boolean;
  /** Why a move was not applied: no such usage, or the source model has no known price. */
  reason?: string;
  requestsPerMonth: number;
  monthlyBeforeUsd: number;
  monthlyAfterUsd: number;
  monthlySavingUsd: number;
}
export interface CostProjection {
  period: Period | null;
  monthlyBeforeUsd: number;
  monthlyAfterUsd: number;
  monthlySavingUsd: number;
  savingPct: number;
  moves: MoveProjection[];
  unpricedRequests: number;
  pricingAsOf: string;
}

export const costProjectionTool: Tool<CostProjectionInput, CostProjection, { usage: UsageReader }> = {
  name: 'cost_projection',
  description:
    'Projects the monthly cost before and after moving a share (0..1) of a feature\'s calls from one model to another, using the observed token mix.',
  input: costProjectionInput,
  async execute(input, ctx) {
    const records = await readRange(ctx, input.from, input.to);
    const period = periodOf(records);
    const lines = aggregateLines(records);
    const before = lines.reduce((s, l) => s + (l.costUsd ?? 0), 0);
    const unpricedRequests = lines.reduce((s, l) => s + (l.costUsd === null ? l.requests : 0), 0);
    const moves = input.moves.map((mv): MoveProjection => {
      const from = modelKey(mv.fromModel).key;
      const line = lines.find((l) => l.feature.toLowerCase() === mv.feature.toLowerCase() && l.model === from);
      const empty = { ...mv, requestsPerMonth: 0, monthlyBeforeUsd: 0, monthlyAfterUsd: 0, monthlySavingUsd: 0 };
      if (!line) return { ...empty, applied: false, reason: `no usage of ${mv.fromModel} in ${mv.feature} in this period` };
      if (line.costUsd === null) return { ...empty, applied: false, reason: `${mv.fromModel} has no known price` };
      const moved = line.costUsd * mv.share;
      const after = priceTokens(findModel(mv.toModel)!, line.inputTokens * mv.share, line.outputTokens * mv.share);
      return {
        ...mv,
        applied: true,
        requestsPerMonth: Math.round(toMonthly(line.requests * mv.share, period)),
        monthlyBeforeUsd: round2(toMonthly(moved, period)),
        monthlyAfterUsd: round2(toMonthly(after, period)),
        monthlySavingUsd: round2(toMonthly(moved - after, period)),
      };
    });
    // The total saving is the sum of the per-move figures as shown, and after = before − saving, so
    // every number in an answer adds up to the cent.
    const monthlyBeforeUsd = round2(toMonthly(before, period));
    const monthlySavingUsd = round2(moves.reduce((s, m) => s + m.monthlySavingUsd, 0));
    const monthlyAfterUsd = round2(monthlyBeforeUsd - monthlySavingUsd);
    return {
      period,
      monthlyBeforeUsd,
      monthlyAfterUsd,
      monthlySavingUsd,
      savingPct: monthlyBeforeUsd > 0 ? Math.round((monthlySavingUsd / monthlyBeforeUsd) * 10_000) / 10_000 : 0,
      moves,
      unpricedRequests,
      pricingAsOf: pricing.asOf,
    };
  },
};
