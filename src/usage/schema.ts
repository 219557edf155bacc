// The shape of usage as uploaded. Bounds mirror the `usage_records` columns (integer requests, bigint
// tokens) with headroom only where a real product could need it, so a bad upload fails here with a
// precise message instead of in the database.
import { z } from 'zod';
import type { UsageRecord } from './types.js';
import { storable } from '../protocol/text.js';

export const MAX_UPLOAD_RECORDS = 10_000;
export const MAX_REQUESTS = 2_147_483_647; // Postgres integer
export const MAX_TOKENS = 1_000_000_000_000; // per record and day: far above any real product, exact as a double

export const usageColumns = ['day', 'feature', 'model', 'requests', 'inputTokens', 'outputTokens'] as const;
export type UsageColumn = (typeof usageColumns)[number];

/** Column-name key that ignores case, spaces, underscores and dashes: `Input_Tokens` → `inputtokens`. */
export function columnKey(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, '');
}
const columnByKey = new Map<string, UsageColumn>(usageColumns.map((c) => [columnKey(c), c]));
export function canonicalColumn(name: string): UsageColumn | undefined {
  return columnByKey.get(columnKey(name));
}

function isRealDay(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

export const daySchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine(isRealDay, 'is not a real calendar date');

const label = (max: number) =>
  storable(
    z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(max, `must be at most ${max} characters`)
      .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'),
  );

const count = (max: number) =>
  z.number().int('must be an integer').min(0, 'must not be negative').max(max, `must be at most ${max}`);

export const usageRecordSchema = z.strictObject({
  day: daySchema,
  feature: label(100),
  model: label(100),
  requests: count(MAX_REQUESTS),
  inputTokens: count(MAX_TOKENS),
  outputTokens: count(MAX_TOKENS),
}) satisfies z.ZodType<UsageRecord>;

export const usageRecordListSchema = z
  .array(usageRecordSchema)
  .max(MAX_UPLOAD_RECORDS, `at most ${MAX_UPLOAD_RECORDS} records per upload`);

export const usageUploadSchema = z.union([usageRecordListSchema, z.strictObject({ records: usageRecordListSchema })]);
