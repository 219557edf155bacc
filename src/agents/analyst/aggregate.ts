// Shared arithmetic of the tools: group usage by (feature, model) and turn a period's cost into a
// monthly figure. Both the summary and the projection use it so their numbers always agree.
import type { AnalystToolContext, UsageRecord } from '../../usage/types.js';
import { findModel, priceTokens, type Tier } from '../pricing/index.js';

export const MONTH_DAYS = 30;

export interface Period {
  from: string;
  to: string;
  /** Calendar days from the first to the last day with data, inclusive: the base of "per month". */
  spanDays: number;
  daysWithData: number;
}

export interface UsageLine {
  feature: string;
  /** The pricing table's id when the model is known, else the name as recorded (lower-cased). */
  model: string;
  known: boolean;
  tier: Tier | null;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /** Cost over the period at list price; null for a model not in the pricing table. */
  costUsd: number | null;
}

export function modelKey(raw: string): { key: string; known: boolean } {
  const m = findModel(raw);
  return m ? { key: m.id, known: true } : { key: raw.trim().toLowerCase(), known: false };
}

export function periodOf(records: readonly UsageRecord[]): Period | null {
  if (records.length === 0) return null;
  const days = new Set(records.map((r) => r.day));
  const sorted = [...days].sort();
  const from = sorted[0]!;
  const to = sorted[sorted.length - 1]!;
  const spanDays = Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
  return { from, to, spanDays, daysWithData: days.size };
}

export function toMonthly(amount: number, period: Period | null): number {
  return period ? (amount * MONTH_DAYS) / period.spanDays : 0;
}

/** Lines sorted by feature then model, so every consumer sees them in the same order. */
export function aggregateLines(records: readonly UsageRecord[]): UsageLine[] {
  const lines = new Map<string, UsageLine>();
  for (const r of records) {
    const { key, known } = modelKey(r.model);
    const id = `${r.feature}\u0000${key}`;
    let line = lines.get(id);
    if (!line) {
      line = { feature: r.feature, model: key, known, tier: findModel(key)?.tier ?? null, requests: 0, inputTokens: 0, outputTokens: 0, costUsd: null };
      lines.set(id, line);
    }
    line.requests += r.requests;
    line.inputTokens += r.inputTokens;
    line.outputTokens += r.outputTokens;
  }
  for (const line of lines.values()) {
    const m = findModel(line.model);
    line.costUsd = line.known && m ? priceTokens(m, line.inputTokens, line.outputTokens) : null;
  }
  return [...lines.values()].sort((a, b) => cmp(a.feature, b.feature) || cmp(a.model, b.model));
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Records inside [from, to]; the reader is asked for the range too, this guards readers that ignore it. */
export function inRange(records: readonly UsageRecord[], from?: string, to?: string): UsageRecord[] {
  return records.filter((r) => (!from || r.day >= from) && (!to || r.day <= to));
}

/** The calling user's records in [from, to], read through the tool context; stops if the run was aborted. */
export async function readRange(ctx: AnalystToolContext, from?: string, to?: string): Promise<UsageRecord[]> {
  const records = inRange(await ctx.usage.list({ ...(from && { from }), ...(to && { to }) }), from, to);
  ctx.signal.throwIfAborted();
  return records;
}
