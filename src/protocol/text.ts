// Text the database can store. PostgreSQL's `text` cannot hold NUL (U+0000) and its `jsonb`
// refuses the escape `\u0000` and a UTF-16 surrogate without its pair; a lone surrogate has no
// UTF-8 encoding at all. Input from clients is refused at the boundary (`storable` in the zod
// schemas, answered `bad_request`); what agents, tools and models produce is repaired before it is
// stored (`storableJson`): each such character becomes U+FFFD (docs/protocol.md).

import type { z } from 'zod';

export const REPLACEMENT = '\uFFFD';

// Without the `u` flag a regex sees UTF-16 code units: a high surrogate not followed by a low one,
// or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Why a string cannot be stored as it is, or undefined when it can. */
export function unstorableReason(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain a NUL character (U+0000)';
  LONE_SURROGATE.lastIndex = 0;
  if (LONE_SURROGATE.test(s)) return 'must not contain a lone UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

/** A zod string check: refuses what cannot be stored, saying why. */
export const storable = <T extends z.ZodString>(schema: T) =>
  schema.superRefine((s, ctx) => {
    const reason = unstorableReason(s);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  });

/** Why a JSON value (any string in it, keys included) cannot be stored as it is, or undefined when it can. */
export function unstorableJsonReason(value: unknown): string | undefined {
  if (typeof value === 'string') return unstorableReason(value);
  if (Array.isArray(value)) {
    for (const v of value) {
      const r = unstorableJsonReason(v);
      if (r) return r;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const r = unstorableReason(k) ?? unstorableJsonReason(v);
      if (r) return r;
    }
  }
  return undefined;
}

/** The string with NUL and lone surrogates replaced by U+FFFD (the same string when there are none). */
export function storableText(s: string): string {
  if (unstorableReason(s) === undefined) return s;
  LONE_SURROGATE.lastIndex = 0;
  return s.replaceAll('\u0000', REPLACEMENT).replace(LONE_SURROGATE, REPLACEMENT);
}

/** Every string of a JSON value, keys included, made storable. */
function repair(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value)) return value.map(repair);
  // fromEntries defines own properties, a key `__proto__` (JSON.parse makes one) included.
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), repair(v)]));
  return value;
}

// JSON.stringify writes NUL and lone surrogates as escapes (`\u0000`, `\ud800`…), so the JSON text
// tells cheaply whether any string needs repair: such an escape is a backslash that is not itself
// escaped (an odd run of backslashes) before `u0000` or `ud800`-`udfff`.
const SUSPECT = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/i;

/**
 * `value` as the database will store it, and its JSON. Values with no NUL or lone surrogate (almost
 * all) are returned as they are, serialised once; others are rebuilt from their JSON with every
 * string repaired, so what is stored, announced and kept in memory is the same.
 */
export function storableJson<T>(value: T): { value: T; json: string } {
  const json = JSON.stringify(value);
  // Most texts hold no escape at all: the regex (a lookbehind at every backslash) is skipped.
  if (!json.includes('\\u') || !SUSPECT.test(json)) return { value, json };
  const repaired = repair(JSON.parse(json)) as T;
  return { value: repaired, json: JSON.stringify(repaired) };
}
