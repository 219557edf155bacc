// Typed, validated model pricing. Used by the analyst now and, later, to price LLM runs; so it knows
// nothing about usage records or agents. The table is validated once at import: a typo in the data
// should fail the process start, not produce a silently wrong bill.
import { z } from 'zod';
import { modelRows, pricingAsOf, pricingNote } from './models.js';

export const tiers = ['frontier', 'balanced', 'small'] as const;
export type Tier = (typeof tiers)[number];
export const tierSchema = z.enum(tiers);

const modelSchema = z.strictObject({
  provider: z.string().min(1),
  id: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/),
  name: z.string().min(1),
  input: z.number().nonnegative().finite(),
  output: z.number().nonnegative().finite(),
  tier: tierSchema,
  context: z.number().int().positive(),
  reasoning: z.boolean(),
  aliases: z.array(z.string().min(1)).optional(),
});

export interface ModelPrice {
  provider: string;
  id: string;
  name: string;
  /** USD per 1M input tokens. */
  inputPerMTok: number;
  /** USD per 1M output tokens. */
  outputPerMTok: number;
  tier: Tier;
  contextWindow: number;
  /** Emits hidden reasoning tokens billed as output: a poor default for short, narrow calls. */
  reasoning: boolean;
}

export const pricing = { asOf: pricingAsOf, note: pricingNote } as const;

const rows = z.array(modelSchema).parse(modelRows);
const models: readonly ModelPrice[] = rows.map((m) =>
    Object.freeze({
      provider: m.provider,
      id: m.id,
      name: m.name,
      inputPerMTok: m.input,
      outputPerMTok: m.output,
      tier: m.tier,
      contextWindow: m.context,
      reasoning: m.reasoning,
    }),
);

const byKey = new Map<string, ModelPrice>();
for (const [i, m] of models.entries()) {
  for (const key of [m.id, ...(rows[i]?.aliases ?? [])]) {
    if (byKey.has(key)) throw new Error(`pricing table: duplicate model key ${key}`);
    byKey.set(key, m);
  }
}

// Suffixes providers add to pin a snapshot: -2024-08-06, -20250929, @20240620, -001, -latest, -preview.
const suffixes = [/[-@]\d{4}-\d{2}-\d{2}$/, /[-@]\d{8}$/, /-\d{3,4}$/, /-(latest|preview|exp)$/];

function normalize(id: string): string {
  return id
    .trim()
    .toLowerCase()
    .replace(/^(models|openai|anthropic|google|mistral|mistralai)\//, '')
    .replace(/[\s_]+/g, '-');
}

/** The priced model `id` names, tolerant of case, provider prefixes and snapshot suffixes; else undefined. */
export function findModel(id: string): ModelPrice | undefined {
  let key = normalize(id);
  for (let i = 0; i < 4; i++) {
    const hit = byKey.get(key);
    if (hit) return hit;
    const rule = suffixes.find((re) => re.test(key));
    if (!rule) return undefined;
    key = key.replace(rule, '');
  }
  return undefined;
}

export function listModels(filter?: { tier?: Tier; provider?: string }): ModelPrice[] {
  return models.filter(
    (m) => (!filter?.tier || m.tier === filter.tier) && (!filter?.provider || m.provider === filter.provider),
  );
}

/** Tiers ordered from most to least capable; a lower rank means a more capable tier. */
export function tierRank(tier: Tier): number {
  return tiers.indexOf(tier);
}

export function priceTokens(model: ModelPrice, inputTokens: number, outputTokens: number): number {
  return (inputTokens * model.inputPerMTok + outputTokens * model.outputPerMTok) / 1_000_000;
}

/** USD cost of the given tokens at list price, or undefined when the model is not in the table. */
export function costUsd(modelId: string, inputTokens: number, outputTokens: number): number | undefined {
  const m = findModel(modelId);
  return m ? priceTokens(m, inputTokens, outputTokens) : undefined;
}
