import { describe, it, expect } from 'vitest';
import { sampleUsage } from '../../../src/usage/sample.js';
import { usageRecordSchema } from '../../../src/usage/schema.js';
import { findModel } from '../../../src/agents/pricing/index.js';

const today = new Date('2026-11-26T15:30:00Z');

describe('sampleUsage', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(sampleUsage('alice', today)).toEqual(sampleUsage('alice', today));
    expect(sampleUsage('alice', today)).not.toEqual(sampleUsage('bob', today));
  });

  it('covers the 30 days before today with valid, priced, plausible rows', () => {
    const rows = sampleUsage('alice', today);
    expect(rows.length).toBeGreaterThan(100);
    expect(rows.length).toBeLessThanOrEqual(400);
    const days = [...new Set(rows.map((r) => r.day))].sort();
    expect(days).toHaveLength(30);
    expect(days[0]).toBe('2026-10-27');
    expect(days[29]).toBe('2026-11-25');
    for (const r of rows) {
      expect(usageRecordSchema.parse(r)).toEqual(r);
      expect(findModel(r.model)).toBeDefined();
      expect(r.requests).toBeGreaterThan(0);
      const perCall = r.inputTokens / r.requests;
      expect(perCall).toBeGreaterThan(100);
      expect(perCall).toBeLessThan(20_000);
    }
    const features = new Set(rows.map((r) => r.feature));
    expect(features).toEqual(new Set(['support_chat', 'ticket_summary', 'intent_classifier', 'code_review', 'doc_search_rerank']));
    // The over-provisioning the analyst should find: a frontier model doing classification.
    expect(rows.some((r) => r.feature === 'intent_classifier' && findModel(r.model)?.tier === 'frontier')).toBe(true);
  });
});
