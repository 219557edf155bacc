import { describe, it, expect } from 'vitest';
import { parseCsv, parseUsageCsv } from '../../../src/usage/csv.js';

const header = 'day,feature,model,requests,input_tokens,output_tokens';

describe('parseCsv', () => {
  it('handles quotes, doubled quotes, commas and line breaks inside quotes, CRLF', () => {
    const r = parseCsv('a,b,c\r\n"x, y","say ""hi""","two\nlines"\r\n\r\n');
    expect(r).toEqual({
      ok: true,
      value: [
        { line: 1, fields: ['a', 'b', 'c'] },
        { line: 2, fields: ['x, y', 'say "hi"', 'two\nlines'] },
      ],
    });
  });

  it('counts lines after a quoted line break, keeps empty fields, strips a BOM', () => {
    const r = parseCsv('\uFEFFa,b\n"1\n2",\n3,4');
    expect(r.ok && r.value).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1\n2', ''] },
      { line: 4, fields: ['3', '4'] },
    ]);
  });

  it('rejects an unclosed quote and text after a closing quote', () => {
    expect(parseCsv('a\n"oops')).toEqual({ ok: false, message: 'line 2: a quoted field is never closed' });
    const bad = parseCsv('a,b\n"x"y,z');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toMatch(/line 2, column 1/);
  });
});

describe('parseUsageCsv', () => {
  it('parses records with tolerant headers in any order', () => {
    const text = `Output Tokens,Input_Tokens,REQUESTS,Model,feature,Day\r\n320,2100,1,"gpt-4o",support_chat,2025-11-03\r\n`;
    expect(parseUsageCsv(text)).toEqual({
      ok: true,
      value: [{ day: '2025-11-03', feature: 'support_chat', model: 'gpt-4o', requests: 1, inputTokens: 2100, outputTokens: 320 }],
    });
  });

  it('keeps commas and quotes in a quoted feature name', () => {
    const r = parseUsageCsv(`${header}\n2025-11-03,"search, ""beta""",gpt-4o,1,2,3\n`);
    expect(r.ok && r.value[0]?.feature).toBe('search, "beta"');
  });

  it('names the line and column of a bad number', () => {
    const r = parseUsageCsv(`${header}\n2025-11-03,a,gpt-4o,1,2,3\n2025-11-04,a,gpt-4o,1,12x,3\n`);
    expect(r).toEqual({ ok: false, message: 'line 3, column 5 (inputTokens): expected a non-negative integer, got "12x"' });
    const neg = parseUsageCsv(`${header}\n2025-11-03,a,gpt-4o,-1,2,3\n`);
    expect(!neg.ok && neg.message).toMatch(/^line 2, column 4 \(requests\)/);
  });

  it('names a bad date, an empty feature, a missing or unknown column, a short row', () => {
    expect(parseUsageCsv(`${header}\n2025-02-30,a,m,1,2,3`)).toMatchObject({ ok: false, message: expect.stringMatching(/^line 2, column 1 \(day\): .*calendar/) });
    expect(parseUsageCsv(`${header}\n2025-02-03, ,m,1,2,3`)).toMatchObject({ ok: false, message: expect.stringMatching(/^line 2, column 2 \(feature\)/) });
    expect(parseUsageCsv('day,feature,model,requests,input_tokens\n')).toEqual({ ok: false, message: 'line 1: missing column(s) outputTokens' });
    expect(parseUsageCsv(`${header},cost\n`)).toMatchObject({ ok: false, message: expect.stringMatching(/^line 1, column 7: unknown column "cost"/) });
    expect(parseUsageCsv(`${header}\n2025-02-03,a,m,1,2`)).toEqual({ ok: false, message: 'line 2: expected 6 fields, found 5' });
    expect(parseUsageCsv('')).toMatchObject({ ok: false });
  });

  it('accepts a header-only file as zero records', () => {
    expect(parseUsageCsv(`${header}\n`)).toEqual({ ok: true, value: [] });
  });
});
