import { describe, it, expect } from 'vitest';
import { parseUsageUpload } from '../../../src/usage/index.js';

const rec = { day: '2025-11-03', feature: 'support_chat', model: 'gpt-4o', requests: 10, inputTokens: 100, outputTokens: 20 };

describe('parseUsageUpload', () => {
  it('accepts a JSON array or {records}, with tolerant keys', () => {
    expect(parseUsageUpload(JSON.stringify([rec]), 'application/json')).toEqual({ ok: true, records: [rec] });
    expect(parseUsageUpload(JSON.stringify({ records: [rec] }), 'application/json; charset=utf-8')).toEqual({ ok: true, records: [rec] });
    const snake = { day: rec.day, feature: rec.feature, model: rec.model, requests: 10, input_tokens: 100, output_tokens: 20 };
    expect(parseUsageUpload(JSON.stringify([snake]), 'application/json')).toEqual({ ok: true, records: [rec] });
  });

  it('explains precisely what is wrong', () => {
    const bad = parseUsageUpload(JSON.stringify([rec, { ...rec, requests: 1.5 }]), 'application/json');
    expect(bad).toEqual({ ok: false, message: expect.stringMatching(/^1\.requests: /) });
    expect(parseUsageUpload('{nope', 'application/json')).toMatchObject({ ok: false, message: expect.stringMatching(/^invalid JSON/) });
    expect(parseUsageUpload(JSON.stringify([{ ...rec, cost: 1 }]), 'application/json').ok).toBe(false);
    expect(parseUsageUpload(JSON.stringify({ rows: [] }), 'application/json').ok).toBe(false);
    expect(parseUsageUpload('x', 'text/plain')).toEqual({ ok: false, message: 'unsupported Content-Type "text/plain": use text/csv or application/json' });
  });

  it('caps an upload at 10,000 records', () => {
    const many = Array.from({ length: 10_001 }, () => rec);
    expect(parseUsageUpload(JSON.stringify(many), 'application/json')).toMatchObject({ ok: false, message: "at most 10000 records per upload" });
    expect(parseUsageUpload(JSON.stringify(many.slice(1)), 'application/json').ok).toBe(true);
  });

  it('routes text/csv to the CSV parser', () => {
    const csv = 'day,feature,model,requests,input_tokens,output_tokens\r\n2025-11-03,support_chat,gpt-4o,10,100,20\r\n';
    expect(parseUsageUpload(csv, 'text/csv; charset=utf-8')).toEqual({ ok: true, records: [rec] });
  });
});
