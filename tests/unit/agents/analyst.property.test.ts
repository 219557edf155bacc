import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { UsageRecord } from '../../../src/usage/types.js';
import { createAnalystAgent } from '../../../src/agents/analyst/index.js';
import { listModels } from '../../../src/agents/pricing/index.js';
import { fakeContext } from './fake-context.js';

const agent = createAnalystAgent();
const modelNames = [...listModels().map((m) => m.id), 'gpt-4o-2024-08-06', 'acme-7b', 'Claude-Sonnet-4-5-20250929'];
const features = ['support_chat', 'ticket_summary', 'intent_classifier', 'code_review', 'doc_search_rerank', 'misc', 'x'];

const record: fc.Arbitrary<UsageRecord> = fc.record({
  day: fc.integer({ min: 0, max: 60 }).map((d) => new Date(Date.UTC(2025, 9, 1) + d * 86_400_000).toISOString().slice(0, 10)),
  feature: fc.constantFrom(...features),
  model: fc.constantFrom(...modelNames),
  requests: fc.integer({ min: 0, max: 100_000 }),
  inputTokens: fc.integer({ min: 0, max: 500_000_000 }),
  outputTokens: fc.integer({ min: 0, max: 50_000_000 }),
});
const question = fc.constantFrom('how can we save?', 'where does the money go?', 'and code_review?', 'hello', 'cheaper gpt-4o', '');

interface Data {
  monthly: { beforeUsd: number; afterUsd: number; savingUsd: number };
}

describe('analyst properties', () => {
  it('never projects a loss, and answers deterministically', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 60 }), question, async (records, text) => {
        const a = await agent.run(fakeContext(text, records));
        const b = await agent.run(fakeContext(text, [...records]));
        const m = (a.data as Data).monthly;
        expect(m.savingUsd).toBeGreaterThanOrEqual(0);
        expect(m.afterUsd).toBeLessThanOrEqual(m.beforeUsd);
        expect(m.afterUsd).toBeGreaterThanOrEqual(0);
        expect(b).toEqual(a);
      }),
      { numRuns: 100 },
    );
  });
});
