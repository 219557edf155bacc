// The usage records the analyst reads: what a user's AI product spent, per day, feature and model.
import type { UsageReader, UsageRecord } from '../usage/types.js';
import type { SqlQuery } from '../agents/types.js';

export async function insertUsage(q: SqlQuery, userId: string, records: readonly UsageRecord[], source: 'sample' | 'upload'): Promise<number> {
  // One statement per chunk: a few hundred rows stay far under the parameter limit.
  const CHUNK = 500;
  for (let i = 0; i < records.length; i += CHUNK) {
    const chunk = records.slice(i, i + CHUNK);
    await q.query(
      `INSERT INTO usage_records (user_id, day, feature, model, requests, input_tokens, output_tokens, source)
       SELECT $1::uuid, r.day::date, r.feature, r.model, r.requests, r.input_tokens, r.output_tokens, $3::text
       FROM jsonb_to_recordset($2::jsonb) AS r(day text, feature text, model text, requests int, input_tokens bigint, output_tokens bigint)`,
      [
        userId,
        JSON.stringify(
          chunk.map((r) => ({
            day: r.day,
            feature: r.feature,
            model: r.model,
            requests: r.requests,
            input_tokens: r.inputTokens,
            output_tokens: r.outputTokens,
          })),
        ),
        source,
      ],
    );
  }
  return records.length;
}

interface UsageRow {
  day: string;
  feature: string;
  model: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
}

export function usageReader(db: SqlQuery, userId: string): UsageReader {
  return {
    async list(range = {}): Promise<UsageRecord[]> {
      const rows = await db.query<UsageRow & Record<string, unknown>>(
        `SELECT to_char(day, 'YYYY-MM-DD') AS day, feature, model, requests, input_tokens, output_tokens
         FROM usage_records WHERE user_id = $1
           AND ($2::date IS NULL OR day >= $2::date) AND ($3::date IS NULL OR day <= $3::date)
         ORDER BY day, feature, model LIMIT 100000`,
        [userId, range.from ?? null, range.to ?? null],
      );
      return rows.map((r) => ({
        day: r.day,
        feature: r.feature,
        model: r.model,
        requests: Number(r.requests),
        inputTokens: Number(r.input_tokens),
        outputTokens: Number(r.output_tokens),
      }));
    },
  };
}
