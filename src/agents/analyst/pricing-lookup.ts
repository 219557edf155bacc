// Tool `pricing_lookup`: list prices of models and their cheaper alternatives in the same or a lower tier.
import { z } from 'zod';
import type { Tool } from '../types.js';
import { findModel, listModels, pricing, tierRank, tierSchema, type ModelPrice, type Tier } from '../pricing/index.js';
import { cmp } from './aggregate.js';
import { round4 } from './format.js';

export const pricingLookupInput = z.strictObject({
  models: z.array(z.string().trim().min(1).max(100)).max(20).optional(),
  tier: tierSchema.optional(),
  /** Input share of tokens used to compare prices; 0.75 (3 input : 1 output) is a common chat mix. */
  inputShare: z.number().min(0).max(1).default(0.75),
  maxAlternatives: z.number().int().min(0).max(30).default(5),
});
export type PricingLookupInput = z.input<typeof pricingLookupInput>;

export interface PriceView {
  id: string;
  name: string;
  provider: string;
  tier: Tier;
  inputPerMTok: number;
  outputPerMTok: number;
  /** USD per 1M tokens at the requested input share. */
  blendedPerMTok: number;
  contextWindow: number;
  reasoning: boolean;
}
export interface Alternative extends PriceView {
  /** How much cheaper than the looked-up model at the requested mix, 0..1. */
  savingPct: number;
}
export interface PricingResult {
  query: string;
  found: boolean;
  model?: PriceView;
  alternatives: Alternative[];
}
export interface PricingLookup {
  asOf: string;
  note: string;
  inputShare: number;
  results: PricingResult[];
  /** The tier's models (or, with neither models nor tier, the whole table), cheapest first. */
  listing?: PriceView[];
}

export function view(m: ModelPrice, inputShare: number): PriceView {
  const blended = m.inputPerMTok * inputShare + m.outputPerMTok * (1 - inputShare);
  return {
    id: m.id,
    name: m.name,
    provider: m.provider,
    tier: m.tier,
    inputPerMTok: m.inputPerMTok,
    outputPerMTok: m.outputPerMTok,
    blendedPerMTok: round4(blended),
    contextWindow: m.contextWindow,
    reasoning: m.reasoning,
  };
}

export function cheaperAlternatives(m: ModelPrice, inputShare: number, max: number): Alternative[] {
  const base = view(m, inputShare).blendedPerMTok;
  return listModels()
    .filter((c) => c.id !== m.id && tierRank(c.tier) >= tierRank(m.tier))
    .map((c) => view(c, inputShare))
    .filter((c) => c.blendedPerMTok < base)
    .sort((a, b) => tierRank(a.tier) - tierRank(b.tier) || a.blendedPerMTok - b.blendedPerMTok || cmp(a.id, b.id))
    .slice(0, max)
    .map((c) => ({ ...c, savingPct: base > 0 ? round4(1 - c.blendedPerMTok / base) : 0 }));
}

export const pricingLookupTool: Tool<z.output<typeof pricingLookupInput>, PricingLookup> = {
  name: 'pricing_lookup',
  description:
    'List prices (USD per 1M input/output tokens) of the given models, or of a tier, with cheaper alternatives in the same or a lower tier.',
  input: pricingLookupInput,
  async execute(input) {
    const results = (input.models ?? []).map((query): PricingResult => {
      const m = findModel(query);
      if (!m) return { query, found: false, alternatives: [] };
      return { query, found: true, model: view(m, input.inputShare), alternatives: cheaperAlternatives(m, input.inputShare, input.maxAlternatives) };
    });
    const wantListing = input.tier !== undefined || results.length === 0;
    const listing = wantListing
      ? listModels(input.tier ? { tier: input.tier } : undefined)
          .map((m) => view(m, input.inputShare))
          .sort((a, b) => tierRank(a.tier) - tierRank(b.tier) || a.blendedPerMTok - b.blendedPerMTok || cmp(a.id, b.id))
      : undefined;
    return { asOf: pricing.asOf, note: pricing.note, inputShare: input.inputShare, results, ...(listing && { listing }) };
  },
};
