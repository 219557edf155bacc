// A small RFC 4180 CSV reader for usage uploads. Errors name the physical line (1-based, as an editor
// shows it) and the column, because the person fixing the file has it open in a spreadsheet.
// Kept hand-written: the parsers (csv-parse, papaparse) report record numbers, not the physical line
// a quoted newline moves, and the whole reader is smaller than their configuration for it.
import type { UsageRecord } from './types.js';
import { MAX_UPLOAD_RECORDS, canonicalColumn, usageColumns, usageRecordSchema, type UsageColumn } from './schema.js';

export interface CsvRow {
  line: number; // line where the row starts
  fields: string[];
}

export type CsvResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** Splits CSV text into rows; quoted fields may hold commas, doubled quotes and line breaks. */
export function parseCsv(text: string): CsvResult<CsvRow[]> {
  const rows: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let rowLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let quoted = false; // inside quotes
  let wasQuoted = false; // current field was quoted: only a separator may follow its closing quote
  const endRow = () => {
    fields.push(field);
    // A blank line is not a row (spreadsheets leave them at the end).
    if (!(fields.length === 1 && fields[0] === '' && !wasQuoted)) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
    wasQuoted = false;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      i++;
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      wasQuoted = false;
    } else if (c === '\n' || c === '\r') {
      endRow();
      if (c === '\r' && text[i + 1] === '\n') i++;
      line++;
      rowLine = line;
    } else if (c === '"') {
      if (field.trim() !== '' || wasQuoted) {
        return { ok: false, message: `line ${line}, column ${fields.length + 1}: unexpected quote inside an unquoted field` };
      }
      field = '';
      quoted = true;
      wasQuoted = true;
    } else if (wasQuoted && c !== ' ' && c !== '\t') {
      return { ok: false, message: `line ${line}, column ${fields.length + 1}: text after a closing quote` };
    } else if (!wasQuoted) {
      field += c;
    }
    i++;
  }
  if (quoted) return { ok: false, message: `line ${rowLine}: a quoted field is never closed` };
  if (field !== '' || fields.length > 0 || wasQuoted) endRow();
  return { ok: true, value: rows };
}

const numeric = new Set<UsageColumn>(['requests', 'inputTokens', 'outputTokens']);

/** Parses a usage CSV (header row with the usage columns, any order) into validated records. */
export function parseUsageCsv(text: string): CsvResult<UsageRecord[]> {
  const parsed = parseCsv(text);
  if (!parsed.ok) return parsed;
  const [header, ...body] = parsed.value;
  if (!header) return { ok: false, message: `empty CSV: expected a header row with ${usageColumns.join(', ')}` };
  const order: UsageColumn[] = [];
  for (const [i, raw] of header.fields.entries()) {
    const col = canonicalColumn(raw);
    if (!col) {
      return { ok: false, message: `line ${header.line}, column ${i + 1}: unknown column "${raw.trim()}" (expected ${usageColumns.join(', ')})` };
    }
    if (order.includes(col)) return { ok: false, message: `line ${header.line}, column ${i + 1}: duplicate column "${col}"` };
    order.push(col);
  }
  const missing = usageColumns.filter((c) => !order.includes(c));
  if (missing.length > 0) return { ok: false, message: `line ${header.line}: missing column(s) ${missing.join(', ')}` };
  if (body.length > MAX_UPLOAD_RECORDS) {
    return { ok: false, message: `${body.length} rows: at most ${MAX_UPLOAD_RECORDS} records per upload` };
  }
  const records: UsageRecord[] = [];
  for (const row of body) {
    if (row.fields.length !== order.length) {
      return { ok: false, message: `line ${row.line}: expected ${order.length} fields, found ${row.fields.length}` };
    }
    const obj: Record<string, string | number> = {};
    for (const [i, col] of order.entries()) {
      const v = row.fields[i]!.trim();
      if (numeric.has(col)) {
        if (!/^\d+$/.test(v)) {
          return { ok: false, message: `line ${row.line}, column ${i + 1} (${col}): expected a non-negative integer, got "${v}"` };
        }
        obj[col] = Number(v);
      } else obj[col] = v;
    }
    const checked = usageRecordSchema.safeParse(obj);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      const col = String(issue.path[0] ?? '');
      return { ok: false, message: `line ${row.line}, column ${order.indexOf(col as UsageColumn) + 1} (${col}): ${issue.message}` };
    }
    records.push(checked.data);
  }
  return { ok: true, value: records };
}
