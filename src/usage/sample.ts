// The usage set every new user starts with, so the analyst has something real to talk about before
// an upload. It mirrors a typical over-provisioned AI product: frontier models doing classification
// and reranking, a strong model where it earns its price (code review). Deterministic per seed so a
// user's sample, the tests and the docs agree.
import type { UsageRecord } from './types.js';

interface Line {
  feature: string;
  model: string;
  requestsPerDay: number;
  inputPerRequest: number;
  outputPerRequest: number;
  weekendFactor: number; // B2B traffic drops at weekends; internal tools drop more
}

const lines: readonly Line[] = [
  { feature: 'support_chat', model: 'claude-sonnet-4-5-20250929', requestsPerDay: 2400, inputPerRequest: 2100, outputPerRequest: 320, weekendFactor: 0.6 },
  { feature: 'support_chat', model: 'gpt-4o-mini', requestsPerDay: 300, inputPerRequest: 1500, outputPerRequest: 180, weekendFactor: 0.6 },
  { feature: 'ticket_summary', model: 'gpt-4o-2024-08-06', requestsPerDay: 1100, inputPerRequest: 2600, outputPerRequest: 210, weekendFactor: 0.4 },
  { feature: 'intent_classifier', model: 'gpt-4.1', requestsPerDay: 9000, inputPerRequest: 420, outputPerRequest: 6, weekendFactor: 0.6 },
  { feature: 'code_review', model: 'claude-opus-4-1-20250805', requestsPerDay: 140, inputPerRequest: 14000, outputPerRequest: 1400, weekendFactor: 0.15 },
  { feature: 'doc_search_rerank', model: 'gpt-4o', requestsPerDay: 3800, inputPerRequest: 3200, outputPerRequest: 24, weekendFactor: 0.5 },
  { feature: 'doc_search_rerank', model: 'gemini-2.0-flash', requestsPerDay: 600, inputPerRequest: 3000, outputPerRequest: 22, weekendFactor: 0.5 },
];

// xmur3 string hash → mulberry32 PRNG: tiny, well known, good enough for plausible noise.
function seedFrom(s: string): number {
  let h = 1779033703 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  h = Math.imul(h ^ (h >>> 16), 2246822507);
  h = Math.imul(h ^ (h >>> 13), 3266489909);
  return (h ^= h >>> 16) >>> 0;
}
function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const SAMPLE_DAYS = 30;

/** 30 days of usage ending the day before `today` (UTC), one row per day, feature and model. */
export function sampleUsage(seed: string, today: Date): UsageRecord[] {
  const rand = mulberry32(seedFrom(seed));
  const jitter = (spread: number) => 1 + (rand() * 2 - 1) * spread;
  const start = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()) - SAMPLE_DAYS * 86_400_000;
  const growth = 0.15 * rand(); // a growing product: up to +15% over the month
  const out: UsageRecord[] = [];
  for (let d = 0; d < SAMPLE_DAYS; d++) {
    const date = new Date(start + d * 86_400_000);
    const weekday = date.getUTCDay();
    const weekend = weekday === 0 || weekday === 6;
    for (const l of lines) {
      const trend = 1 + (growth * d) / SAMPLE_DAYS;
      const requests = Math.max(1, Math.round(l.requestsPerDay * trend * (weekend ? l.weekendFactor : 1) * jitter(0.12)));
      out.push({
        day: date.toISOString().slice(0, 10),
        feature: l.feature,
        model: l.model,
        requests,
        inputTokens: Math.round(requests * l.inputPerRequest * jitter(0.08)),
        outputTokens: Math.round(requests * l.outputPerRequest * jitter(0.1)),
      });
    }
  }
  return out;
}
