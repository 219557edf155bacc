// Composes the final Markdown answer from the tools' results. Every figure comes from a tool result
// (the projection is the authority on savings), so the text and `data` cannot disagree.
import { findModel, type ModelPrice } from '../pricing/index.js';
import { toMonthly } from './aggregate.js';
import type { CostProjection } from './cost-projection.js';
import { fmtInt, fmtPct, fmtPrice, fmtUsd } from './format.js';
import type { Kept, PlannedMove } from './plan.js';
import type { PricingLookup } from './pricing-lookup.js';
import type { Question } from './question.js';
import type { UsageSummary } from './usage-summary.js';

export interface AnswerInput {
  q: Question;
  summary: UsageSummary;
  lookup: PricingLookup;
  moves: readonly PlannedMove[]; // the moves sent to the projection
  kept: readonly Kept[];
  projection: CostProjection;
  scoped: boolean;
}

export const CAPABILITIES =
  "I'm **analyst**, a deterministic cost analyst (not an LLM). I answer questions about your AI spend: where the money goes by feature and model, which calls could run on a cheaper model, and what that would save per month.";

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const priceOf = (m: ModelPrice) => `${fmtPrice(m.inputPerMTok)} / ${fmtPrice(m.outputPerMTok)} per 1M input / output tokens`;

function intro(a: AnswerInput): string[] {
  const { summary: s, q } = a;
  const p = s.period!;
  const out: string[] = [];
  if (q.intent === 'offtopic') out.push(`${CAPABILITIES} That question is outside what I can do, so here is the overview of your usage instead.`, '');
  if (q.followUp) out.push(`_Continuing from your previous question${q.features.length + q.models.length > 0 ? `: ${[...q.features, ...q.models].map(code).join(', ')}` : ''}._`, '');
  out.push(
    `Your usage from **${p.from} to ${p.to}** (${p.daysWithData} days with data): ${fmtUsd(s.totals.costUsd)} at list prices, ` +
      `about **${fmtUsd(s.totals.monthlyCostUsd)}/month** across ${s.byFeature.length} feature${s.byFeature.length === 1 ? '' : 's'}.`,
  );
  return out;
}

function breakdown(s: UsageSummary): string[] {
  const p = s.period!;
  const rows = s.byFeature.map(
    (f) => `| ${code(f.feature)} | ${f.models.map(code).join(', ')} | ${fmtInt(toMonthly(f.requests, p))} | ${fmtUsd(f.monthlyCostUsd)} | ${fmtPct(f.share)} |`,
  );
  const out = ['## Where the money goes', '', '| Feature | Models | Requests / month | Spend / month | Share |', '|---|---|---:|---:|---:|', ...rows];
  out.push(`| **Total** | | ${fmtInt(toMonthly(s.totals.requests, p))} | **${fmtUsd(s.totals.monthlyCostUsd)}** | 100% |`);
  if (s.unknownModels.length > 0) {
    out.push('', `Not priced (not in the pricing table): ${s.unknownModels.map(code).join(', ')}, ${fmtInt(s.totals.unpricedRequests)} requests. Check the model names, or tell me their prices are out of scope.`);
  }
  return out;
}

function featureDetail(s: UsageSummary, feature: string): string[] {
  const out = ['', `### ${code(feature)}`, ''];
  for (const l of s.lines.filter((x) => x.feature === feature)) {
    const perCall = l.requests > 0 ? `${fmtInt(l.inputTokens / l.requests)} input / ${fmtInt(l.outputTokens / l.requests)} output tokens per call` : 'no calls';
    const m = findModel(l.model);
    if (!m || l.monthlyCostUsd === null) {
      out.push(`- ${code(l.model)}: not in the pricing table; ${fmtInt(l.monthlyRequests)} calls/month, ${perCall}.`);
      continue;
    }
    const per1k = l.requests > 0 ? ` (${fmtUsd(((l.costUsd ?? 0) / l.requests) * 1000)} per 1,000 calls)` : '';
    out.push(`- ${code(l.model)} (${m.tier}, ${priceOf(m)}): ${fmtInt(l.monthlyRequests)} calls/month, ${perCall}, **${fmtUsd(l.monthlyCostUsd)}/month**${per1k}.`);
  }
  return out;
}

function modelDetail(a: AnswerInput, model: string): string[] {
  const r = a.lookup.results.find((x) => x.model?.id === model || x.query === model);
  const m = findModel(model);
  if (!r || !m) return ['', `### ${code(model)}`, '', `${code(model)} is not in the pricing table, so I can't price it.`];
  const uses = a.summary.lines.filter((l) => l.model === m.id);
  const used = uses.length > 0 ? `In your usage: ${uses.map((l) => `${code(l.feature)} (${fmtUsd(l.monthlyCostUsd ?? 0)}/month)`).join(', ')}.` : 'Not in your usage.';
  const alts = r.alternatives.filter((x, i, all) => all.findIndex((y) => y.tier === x.tier) > i - 2).map((x) => `${code(x.id)} (${x.tier}, ${fmtPrice(x.inputPerMTok)} / ${fmtPrice(x.outputPerMTok)})`);
  return [
    '',
    `### ${code(m.id)}: ${m.name}`,
    '',
    `List price ${priceOf(m)}; ${m.tier} tier, ${fmtInt(m.contextWindow)}-token context. ${used}`,
    alts.length > 0 ? `Cheaper in the same or a lower tier: ${alts.join(', ')}.` : 'Nothing cheaper in the same or a lower tier in the pricing table.',
  ];
}

function movesSection(a: AnswerInput): string[] {
  const applied = a.projection.moves.filter((m) => m.applied);
  const brief = a.q.intent === 'breakdown' || a.q.intent === 'offtopic';
  const out = ['', brief ? '## Biggest opportunities' : '## What to move', ''];
  if (a.scoped) out.push(`Moves for ${[...a.q.features, ...a.q.models].map(code).join(', ')} only; ask "how can we save?" for the whole product.`, '');
  if (applied.length === 0) out.push('Nothing to move: every priced feature already runs on a model sized for its task, or a move would save under 10%.');
  const shown = brief ? applied.slice(0, 3) : applied;
  shown.forEach((p, i) => {
    const plan = a.moves.find((m) => m.feature === p.feature && m.fromModel === p.fromModel)!;
    out.push(
      `${i + 1}. **${p.feature}**: move ${Math.round(p.share * 100)}% of ${code(p.fromModel)} calls to ${code(p.toModel)} (${plan.fromTier === plan.toTier ? `same tier: ${plan.toTier}` : `${plan.fromTier} → ${plan.toTier}`}). ` +
        `${brief ? '' : `${cap(plan.why)}. `}Saves **${fmtUsd(p.monthlySavingUsd)}/month** (${fmtUsd(p.monthlyBeforeUsd)} → ${fmtUsd(p.monthlyAfterUsd)} for those calls).`,
    );
  });
  if (brief && applied.length > shown.length) out.push(`…and ${applied.length - shown.length} more (ask "how can we save?").`);
  const focus = new Set(a.q.features);
  const kept = brief ? [] : a.kept.filter((k) => !a.scoped || focus.has(k.feature) || a.q.models.includes(k.model));
  if (kept.length > 0) out.push('', 'Kept as they are:');
  for (const k of kept) {
    const line = a.summary.lines.find((l) => l.feature === k.feature && l.model === k.model);
    const opt = k.option
      ? ` A same-tier option worth an eval: ${code(k.option.model)} would cost ${fmtUsd(k.option.monthlyUsd)}/month instead of ${fmtUsd(line?.monthlyCostUsd ?? 0)}.`
      : '';
    out.push(`- **${k.feature}** on ${code(k.model)}: ${cap(k.why)}.${opt}`);
  }
  return out;
}

function projectionSection(a: AnswerInput): string[] {
  const p = a.projection;
  const n = p.moves.filter((m) => m.applied).length;
  return [
    '',
    '## Projected saving',
    '',
    `${n > 0 ? `With ${n === 1 ? 'this move' : `these ${n} moves`}` : 'With no move'}: **${fmtUsd(p.monthlyBeforeUsd)}/month → ${fmtUsd(p.monthlyAfterUsd)}/month**, ` +
      `a saving of **${fmtUsd(p.monthlySavingUsd)}/month** (${fmtPct(p.savingPct)}), priced on your observed token mix over ${p.period?.spanDays ?? 0} days.`,
  ];
}

function caveats(a: AnswerInput): string[] {
  const out = [
    '',
    '## Caveats',
    '',
    `- Prices are providers' published list prices as of ${a.lookup.asOf} (standard tier; prompt caching, batch and committed-use discounts not included). Check them before relying on these figures.`,
    "- Quality must be checked: run an eval on a sample of your own traffic before switching, then roll out gradually (e.g. 10% → 50% → 100%) while watching the feature's own metrics.",
  ];
  const reasoning = a.moves.some((m) => findModel(m.toModel)?.reasoning || findModel(m.fromModel)?.reasoning);
  if (reasoning) out.push('- Reasoning models bill hidden reasoning tokens as output; the projection assumes your observed output tokens.');
  if (a.projection.unpricedRequests > 0) out.push(`- ${fmtInt(a.projection.unpricedRequests)} requests on models missing from the pricing table are not included in any figure.`);
  return out;
}

export function composeAnswer(a: AnswerInput): string {
  const parts = [...intro(a), '', ...breakdown(a.summary)];
  for (const f of a.q.features) parts.push(...featureDetail(a.summary, f));
  for (const m of a.q.models) parts.push(...modelDetail(a, m));
  parts.push(...movesSection(a), ...projectionSection(a), ...caveats(a));
  return parts.join('\n').replace(/\n{3,}/g, '\n\n').trim() + '\n';
}
