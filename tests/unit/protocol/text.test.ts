// protocol/text.ts: what the database cannot store is named at the boundary and repaired on the way in.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { REPLACEMENT, storable, storableJson, storableText, unstorableReason } from '../../../src/protocol/text.js';

/** Well-formed UTF-16 with no NUL: survives a UTF-8 round trip, which a lone surrogate does not. */
const isStorable = (s: string) => !s.includes('\u0000') && Buffer.from(s, 'utf8').toString('utf8') === s;

const hostileUnit = fc.oneof(
  fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d\udd25', '\\', 'u', '0'),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const hostile = fc.string({ unit: hostileUnit, maxLength: 40 });

describe('unstorableReason', () => {
  it('names NUL and lone surrogates, and nothing else', () => {
    expect(unstorableReason('a\u0000b')).toBe('must not contain a NUL character (U+0000)');
    for (const s of ['\ud800', 'a\udbff', '\udc00b', '\udfff\ud800', '\ud83d\ud83d\udd25']) {
      expect(unstorableReason(s)).toBe('must not contain a lone UTF-16 surrogate (not valid Unicode)');
    }
    for (const s of ['', 'plain', '\ud83d\udd25 fire', 'é ü ß 中文', '\\u0000', '\u0001\u001f\u007f']) expect(unstorableReason(s)).toBeUndefined();
  });

  it('agrees with a UTF-8 round trip on any string', () => {
    fc.assert(fc.property(hostile, (s) => (unstorableReason(s) === undefined) === isStorable(s)));
  });
});

describe('storableText', () => {
  it('replaces each NUL and lone surrogate with U+FFFD and keeps everything else', () => {
    expect(storableText('a\u0000b\ud800c\udc00\ud83d\udd25')).toBe(`a${REPLACEMENT}b${REPLACEMENT}c${REPLACEMENT}\ud83d\udd25`);
    expect(storableText('\udbff\udbff\udfff')).toBe(`${REPLACEMENT}\udbff\udfff`);
  });

  it('returns a storable string of the same length, unchanged when it was storable', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const out = storableText(s);
        expect(isStorable(out)).toBe(true);
        expect(out.length).toBe(s.length);
        if (isStorable(s)) expect(out).toBe(s);
      }),
    );
  });
});

describe('storableJson', () => {
  it('returns a value with no bad text as it is, serialised once', () => {
    const value = { type: 'agent_output', text: 'fine \ud83d\udd25 \\u0000', n: 1 };
    const r = storableJson(value);
    expect(r.value).toBe(value);
    expect(r.json).toBe(JSON.stringify(value));
  });

  it('repairs every string of a nested value, object keys included', () => {
    const r = storableJson({ text: 'a\u0000', result: { ['k\ud800']: ['x\udc00', 1, null, true, { deep: '\u0000' }] } });
    expect(r.value).toEqual({ text: `a${REPLACEMENT}`, result: { [`k${REPLACEMENT}`]: [`x${REPLACEMENT}`, 1, null, true, { deep: REPLACEMENT }] } });
    expect(r.json).toBe(JSON.stringify(r.value));
    expect(r.json).not.toMatch(/\\u0000|\\ud[89a-f]/i);
  });

  it('keeps a key named __proto__ as a key', () => {
    const r = storableJson(JSON.parse('{"__proto__": {"x": "a\\u0000"}, "y": "\\ud800"}') as unknown);
    expect(r.json).toBe(`{"__proto__":{"x":"a${REPLACEMENT}"},"y":"${REPLACEMENT}"}`);
  });

  it('gives JSON that holds neither NUL nor a lone surrogate escape, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3, stringUnit: hostileUnit }), (v) => {
        const { value, json } = storableJson(v);
        // An escape is a backslash not itself escaped; `\\u0000` is the text of one.
        expect(json).not.toMatch(/(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/i);
        expect(json).toBe(JSON.stringify(value));
        expect(isStorable(json)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('storable (zod)', () => {
  it('refuses with the reason as the message', () => {
    const schema = storable(z.string().max(10));
    expect(schema.safeParse('ok').success).toBe(true);
    const r = schema.safeParse('a\u0000');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe('must not contain a NUL character (U+0000)');
  });
});
