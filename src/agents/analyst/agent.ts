// The analyst's run: summary → pricing → projection, thinking aloud between the steps. No model is
// called and nothing random or clock-dependent enters the answer, so the same question over the same
// data always gives the same answer.
import type { AgentContext, AgentResult } from '../types.js';
import { pricing } from '../pricing/index.js';
import { composeAnswer } from './answer.js';
import { composeEmptyAnswer } from './answer-empty.js';
import type { CostProjection } from './cost-projection.js';
import { fmtCount, fmtInt, fmtPct, fmtUsd, round2 } from './format.js';
import { planMoves, type PlannedMove } from './plan.js';
import type { Alternative, PricingLookup } from './pricing-lookup.js';
import { readQuestion } from './question.js';
import type { UsageSummary } from './usage-summary.js';

const NO_USAGE = { inputTokens: 0, outputTokens: 0, costUsd: 0 };

export async function runAnalyst(ctx: AgentContext): Promise<AgentResult> {
  const { signal } = ctx;
  const text = ctx.input.text;
  signal.throwIfAborted();
  await ctx.think(`Loading your usage records to price them at list prices (as of ${pricing.asOf}).`);
  const summary = await ctx.callTool<UsageSummary>('usage_summary', {});
  signal.throwIfAborted();

  const features = summary.byFeature.map((f) => f.feature);
  const q = readQuestion(text, ctx.history, features, summary.byModel.map((m) => m.model));
  const period = summary.period;
  if (!period) {
    await ctx.think('No usage records yet: I will explain how to upload them and show list prices meanwhile.');
    const lookup = await ctx.callTool<PricingLookup>('pricing_lookup', q.models.length > 0 ? { models: q.models, maxAlternatives: 3 } : {});
    signal.throwIfAborted();
    return {
      text: composeEmptyAnswer(lookup),
      data: { kind: 'cost_analysis', empty: true, intent: q.intent, pricingAsOf: pricing.asOf, monthly: { beforeUsd: 0, afterUsd: 0, savingUsd: 0, savingPct: 0 }, spendByFeature: [], moves: [] },
      usage: NO_USAGE,
    };
  }

  const top = summary.byFeature.slice(0, 3).map((f) => `${f.feature} ${fmtPct(f.share)}`).join(', ');
  await ctx.think(
    `${fmtInt(summary.records)} records over ${period.spanDays} days (${period.from} → ${period.to}): ${fmtCount(summary.totals.requests)} requests, ` +
      `${fmtUsd(summary.totals.costUsd)} in total, about ${fmtUsd(summary.totals.monthlyCostUsd)}/month. Largest: ${top || 'none priced'}.`,
  );
  if (summary.unknownModels.length > 0) {
    await ctx.think(`Not in the pricing table, so not priced: ${summary.unknownModels.join(', ')}.`);
  }
  const focus = [...q.features, ...q.models];
  await ctx.think(
    q.intent === 'offtopic'
      ? 'The question is not about costs; I will say what I can do and give the overview.'
      : `You ask for ${q.intent === 'save' ? 'savings' : q.intent === 'breakdown' ? 'the breakdown' : 'an overview'}${focus.length > 0 ? `, focused on ${focus.join(', ')}` : ''}${q.followUp ? ' (from your previous message)' : ''}.`,
  );
  signal.throwIfAborted();

  const priced = summary.lines.filter((l) => l.costUsd !== null);
  const inTok = priced.reduce((s, l) => s + l.inputTokens, 0);
  const outTok = priced.reduce((s, l) => s + l.outputTokens, 0);
  const inputShare = inTok + outTok > 0 ? Math.round((inTok / (inTok + outTok)) * 100) / 100 : 0.75;
  const models = [...new Set([...summary.byModel.filter((m) => m.known).map((m) => m.model), ...q.models])].slice(0, 20);
  await ctx.think(`Looking up list prices and cheaper alternatives for ${models.length} model${models.length === 1 ? '' : 's'}, at your token mix (${fmtPct(inputShare)} input).`);
  const lookup = await ctx.callTool<PricingLookup>('pricing_lookup', { models, inputShare, maxAlternatives: 30 });
  signal.throwIfAborted();

  const alternatives = new Map<string, readonly Alternative[]>();
  for (const r of lookup.results) if (r.model) alternatives.set(r.model.id, r.alternatives);
  const insist = new Set(q.intent === 'save' ? q.features : []);
  const plan = planMoves(summary.lines, alternatives, 30 / period.spanDays, insist);
  const inFocus = (m: PlannedMove) => q.features.includes(m.feature) || q.models.includes(m.fromModel);
  const focused = plan.moves.filter(inFocus);
  const scoped = focused.length > 0;
  const moves = scoped ? focused : plan.moves;
  for (const m of moves.slice(0, 4)) {
    await ctx.think(`${m.feature} on ${m.fromModel} (${m.fromTier}): ${m.why}. ${m.toModel} (${m.toTier}) would save about ${fmtUsd(m.estMonthlySavingUsd)}/month.`);
  }
  for (const k of plan.kept.filter((k) => k.option || q.features.includes(k.feature)).slice(0, 2)) {
    await ctx.think(`Keeping ${k.feature} on ${k.model}: ${k.why}.`);
  }
  signal.throwIfAborted();

  await ctx.think(`Projecting ${moves.length} move${moves.length === 1 ? '' : 's'} on the observed token mix of ${period.from} → ${period.to}.`);
  const projection = await ctx.callTool<CostProjection>('cost_projection', {
    from: period.from,
    to: period.to,
    moves: moves.map(({ feature, fromModel, toModel, share }) => ({ feature, fromModel, toModel, share })),
  });
  signal.throwIfAborted();
  await ctx.think(
    `Projection: ${fmtUsd(projection.monthlyBeforeUsd)}/month → ${fmtUsd(projection.monthlyAfterUsd)}/month, saving ${fmtUsd(projection.monthlySavingUsd)}/month (${fmtPct(projection.savingPct)}).`,
  );

  const answer = composeAnswer({ q, summary, lookup, moves, kept: plan.kept, projection, scoped });
  return {
    text: answer,
    data: {
      kind: 'cost_analysis',
      intent: q.intent,
      focus: { features: q.features, models: q.models },
      period,
      pricingAsOf: lookup.asOf,
      spendByFeature: summary.byFeature.map((f) => ({ feature: f.feature, monthlyUsd: round2(f.monthlyCostUsd), share: Math.round(f.share * 10_000) / 10_000 })),
      moves: projection.moves
        .filter((p) => p.applied)
        .map((p) => {
          const m = moves.find((x) => x.feature === p.feature && x.fromModel === p.fromModel)!;
          return { feature: p.feature, fromModel: p.fromModel, toModel: p.toModel, share: p.share, fromTier: m.fromTier, toTier: m.toTier, why: m.why, monthlySavingUsd: p.monthlySavingUsd };
        }),
      monthly: { beforeUsd: projection.monthlyBeforeUsd, afterUsd: projection.monthlyAfterUsd, savingUsd: projection.monthlySavingUsd, savingPct: projection.savingPct },
      unknownModels: summary.unknownModels,
    },
    usage: NO_USAGE,
  };
}
