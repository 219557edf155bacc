// The answer for a user with no usage records: how to upload, plus the prices they can already use.
import { MAX_UPLOAD_RECORDS } from '../../usage/schema.js';
import { tiers } from '../pricing/index.js';
import { CAPABILITIES } from './answer.js';
import { fmtInt, fmtPrice } from './format.js';
import type { PricingLookup } from './pricing-lookup.js';

export function composeEmptyAnswer(lookup: PricingLookup): string {
  const out = [
    CAPABILITIES,
    '',
    'You have **no usage records yet**, so there is nothing of yours to analyse. Upload them with `POST /v1/usage` (bearer token), as CSV or JSON: one row per day, feature and model, with that day\'s totals.',
    '',
    '```http',
    'POST /v1/usage',
    'Authorization: Bearer <token>',
    'Content-Type: text/csv',
    '',
    'day,feature,model,requests,input_tokens,output_tokens',
    '2025-11-03,support_chat,gpt-4o,1200,2520000,384000',
    '2025-11-03,intent_classifier,gpt-4.1,9000,3780000,54000',
    '```',
    '',
    `or \`Content-Type: application/json\` with \`[{"day": "2025-11-03", "feature": "support_chat", "model": "gpt-4o", "requests": 1200, "inputTokens": 2520000, "outputTokens": 384000}]\` (or \`{"records": [...]}\`), at most ${fmtInt(MAX_UPLOAD_RECORDS)} records per upload. Then ask me again.`,
  ];
  const found = lookup.results.filter((r) => r.model);
  if (found.length > 0) {
    out.push('', '## Prices you asked about', '');
    for (const r of found) {
      const m = r.model!;
      const alts = r.alternatives.slice(0, 3).map((a) => `\`${a.id}\` (${a.tier}, ${fmtPrice(a.inputPerMTok)} / ${fmtPrice(a.outputPerMTok)})`);
      out.push(`- \`${m.id}\` (${m.tier}): ${fmtPrice(m.inputPerMTok)} input / ${fmtPrice(m.outputPerMTok)} output per 1M tokens.${alts.length > 0 ? ` Cheaper: ${alts.join(', ')}.` : ''}`);
    }
  }
  for (const r of lookup.results.filter((x) => !x.found)) out.push(`- \`${r.query}\` is not in the pricing table.`);
  if (lookup.listing) {
    out.push('', '## Cheapest list prices per tier', '', '| Tier | Model | Input / 1M | Output / 1M |', '|---|---|---:|---:|');
    for (const tier of tiers) {
      for (const m of lookup.listing.filter((x) => x.tier === tier).slice(0, 3)) {
        out.push(`| ${tier} | \`${m.id}\` | ${fmtPrice(m.inputPerMTok)} | ${fmtPrice(m.outputPerMTok)} |`);
      }
    }
  }
  out.push('', `_Prices: providers' published list prices as of ${lookup.asOf}; check them before relying on them._`);
  return out.join('\n') + '\n';
}
