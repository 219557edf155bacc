// How the analyst decides what to move: a feature's name and token shape say what kind of task it
// is, the task kind says which tier it needs, and the pricing tool's alternatives say where to go.
import { findModel, priceTokens, tierRank, type ModelPrice, type Tier } from '../pricing/index.js';
import type { SummaryLine } from './usage-summary.js';
import { cmp } from './aggregate.js';
import { fmtInt } from './format.js';
import type { Alternative } from './pricing-lookup.js';

export type TaskKind = 'narrow' | 'summarise' | 'conversational' | 'quality' | 'open';

export interface TaskProfile {
  kind: TaskKind;
  /** The least capable tier that should do this task; null: keep the current model. */
  targetTier: Tier | null;
  share: number;
  why: string;
}

const rules: readonly [RegExp, TaskKind][] = [
  [/code|review|reason|legal|medic|financ|research|analy|math|plan|agent|contract/, 'quality'],
  [/classif|intent|rout|label|tag|moderat|detect|rank|extract|spam|sentiment|filter|triage|embed|categor/, 'narrow'],
  [/summar|title|translat|rewrite|format|caption|digest|tldr|tl_dr|keyword/, 'summarise'],
  [/chat|support|assist|faq|help|bot|repl|answer|conversation/, 'conversational'],
];

export function profileTask(feature: string, inPerCall: number, outPerCall: number): TaskProfile {
  const name = feature.toLowerCase();
  let kind: TaskKind = rules.find(([re]) => re.test(name))?.[1] ?? 'open';
  // Without a telling name, the token shape decides: a few output tokens is a label or a score.
  if (kind === 'open' && outPerCall <= 30) kind = 'narrow';
  else if (kind === 'open' && outPerCall <= 400 && inPerCall >= 3 * outPerCall) kind = 'summarise';
  const shape = `${fmtInt(inPerCall)} input / ${fmtInt(outPerCall)} output tokens per call`;
  switch (kind) {
    case 'narrow':
      return { kind, targetTier: 'small', share: 1, why: `${shape}: a classification/ranking shape that a small model handles` };
    case 'summarise':
      return { kind, targetTier: 'balanced', share: 1, why: `${shape}: short summaries and rewrites don't need a frontier model` };
    case 'conversational':
      return { kind, targetTier: 'balanced', share: 0.6, why: `${shape}: most routine conversations do well on a balanced model; keep the current one for the hardest ~40% (route or escalate)` };
    case 'quality':
      return { kind, targetTier: null, share: 0, why: 'answer quality is the product here, so it stays on a strong model' };
    default:
      return { kind, targetTier: null, share: 0, why: `${shape}: long, open-ended outputs; not moved without an eval` };
  }
}

export interface PlannedMove {
  feature: string;
  fromModel: string;
  toModel: string;
  share: number;
  fromTier: Tier;
  toTier: Tier;
  why: string;
  /** Projected by the planner from the line's tokens; the projection tool is the authority. */
  estMonthlySavingUsd: number;
}

export interface Kept {
  feature: string;
  model: string;
  why: string;
  /** A cheaper model of the same tier and provider worth an eval, with its monthly cost on this line. */
  option?: { model: string; monthlyUsd: number };
}

const MIN_SAVING = 0.1; // a move that saves under 10% of the line is not worth a migration

function lineCost(m: ModelPrice, l: SummaryLine, share: number): number {
  return priceTokens(m, l.inputTokens * share, l.outputTokens * share);
}

/**
 * A fitting candidate, same provider first (no new vendor), non-reasoning if the source is. Across
 * tiers the cheapest wins; within the source's own tier the smallest step down in price does, as
 * the closest in quality (Opus 4.1 → Opus 4.5, not → Sonnet).
 */
export function pickTarget(line: SummaryLine, alts: readonly Alternative[], tiers: readonly Tier[]): ModelPrice | undefined {
  const from = findModel(line.model);
  if (!from || line.costUsd === null) return undefined;
  const current = lineCost(from, line, 1);
  const fits = alts
    .filter((a) => tiers.includes(a.tier) && (from.reasoning || !a.reasoning))
    .map((a) => ({ m: findModel(a.id)!, cost: 0 }))
    .map((c) => ({ ...c, cost: lineCost(c.m, line, 1) }))
    .filter((c) => c.cost < current * (1 - MIN_SAVING));
  const closest = tiers.length === 1 && tiers[0] === from.tier ? -1 : 1;
  fits.sort((a, b) => Number(b.m.provider === from.provider) - Number(a.m.provider === from.provider) || closest * (a.cost - b.cost) || cmp(a.m.id, b.m.id));
  return fits[0]?.m;
}

export function planMoves(
  lines: readonly SummaryLine[],
  alternatives: ReadonlyMap<string, readonly Alternative[]>,
  monthlyFactor: number,
  insist: ReadonlySet<string>,
): { moves: PlannedMove[]; kept: Kept[] } {
  const moves: PlannedMove[] = [];
  const kept: Kept[] = [];
  for (const l of lines) {
    if (!l.known || l.tier === null || l.costUsd === null || l.requests === 0) continue;
    const p = profileTask(l.feature, l.inputTokens / l.requests, l.outputTokens / l.requests);
    const alts = alternatives.get(l.model) ?? [];
    const asked = insist.has(l.feature);
    let tiersOk: Tier[] = [];
    let share = p.share;
    let why = p.why;
    if (p.targetTier !== null && tierRank(l.tier) < tierRank(p.targetTier)) {
      tiersOk = [p.targetTier, ...(p.targetTier === 'balanced' ? (['small'] as const) : [])];
    } else if (asked && p.targetTier === null) {
      // The user asked to save on a quality-critical feature: stay in its tier, move everything.
      tiersOk = [l.tier];
      share = 1;
      why = `you asked about ${l.feature}: a cheaper model of the same tier (${l.tier}) keeps the quality bar`;
    }
    const to = tiersOk.length > 0 ? pickTarget(l, alts, tiersOk.slice(0, 1)) ?? pickTarget(l, alts, tiersOk) : undefined;
    const from = findModel(l.model)!;
    if (to) {
      const saving = (lineCost(from, l, share) - lineCost(to, l, share)) * monthlyFactor;
      moves.push({ feature: l.feature, fromModel: l.model, toModel: to.id, share, fromTier: l.tier, toTier: to.tier, why, estMonthlySavingUsd: saving });
      continue;
    }
    const keepWhy = p.targetTier === null ? p.why : `already on a ${l.tier} model, the right size for it`;
    const same = pickTarget(l, alts, [l.tier]);
    const option = p.targetTier === null && same ? { model: same.id, monthlyUsd: lineCost(same, l, 1) * monthlyFactor } : undefined;
    kept.push({ feature: l.feature, model: l.model, why: keepWhy, ...(option && { option }) });
  }
  moves.sort((a, b) => b.estMonthlySavingUsd - a.estMonthlySavingUsd || cmp(a.feature, b.feature) || cmp(a.fromModel, b.fromModel));
  return { moves, kept };
}
