// Entry point for usage uploads (`POST /v1/usage`) and the per-user sample set. No SQL here: the
// route stores what these functions return.
import type { UsageRecord } from './types.js';
import { parseUsageCsv } from './csv.js';
import { canonicalColumn, usageRecordListSchema } from './schema.js';

export { parseCsv, parseUsageCsv } from './csv.js';
export { sampleUsage } from './sample.js';
export {
  MAX_UPLOAD_RECORDS,
  usageColumns,
  usageRecordSchema,
  usageUploadSchema,
  usageRecordListSchema,
  daySchema,
} from './schema.js';

export type UsageUploadResult = { ok: true; records: UsageRecord[] } | { ok: false; message: string };

// JSON keys get the same tolerance as CSV headers (`input_tokens` works in both); unknown keys are
// left as they are so the strict schema rejects them by name.
function canonicalKeys(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[canonicalColumn(k) ?? k] = v;
  return out;
}

export function parseUsageJson(body: string): UsageUploadResult {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    return { ok: false, message: `invalid JSON: ${(err as Error).message}` };
  }
  // The shape is decided here rather than by a zod union, whose error would only say "invalid input".
  const wrapped = typeof value === 'object' && value !== null && !Array.isArray(value);
  const list = wrapped ? (value as { records?: unknown }).records : value;
  if (!Array.isArray(list)) return { ok: false, message: 'expected a JSON array of usage records or {"records": [...]}' };
  const extra = wrapped ? Object.keys(value as object).filter((k) => k !== 'records') : [];
  if (extra.length > 0) return { ok: false, message: `unknown field(s) ${extra.join(', ')}: expected {"records": [...]}` };
  const parsed = usageRecordListSchema.safeParse(list.map(canonicalKeys));
  if (parsed.success) return { ok: true, records: parsed.data };
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length > 0 ? `${wrapped ? 'records.' : ''}${issue.path.join('.')}: ` : '';
  return { ok: false, message: `${where}${issue.message}` };
}

/** Parses an upload body by its Content-Type (`text/csv` or `application/json`, parameters ignored). */
export function parseUsageUpload(body: string, contentType: string): UsageUploadResult {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'text/csv' || type === 'application/csv') {
    const r = parseUsageCsv(body);
    return r.ok ? { ok: true, records: r.value } : r;
  }
  if (type === 'application/json' || type.endsWith('+json')) return parseUsageJson(body);
  return { ok: false, message: `unsupported Content-Type "${type}": use text/csv or application/json` };
}
