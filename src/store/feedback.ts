// SQL for users' ratings of their finished runs (`run_feedback`): one row per run, changeable.
import type { Queryable } from './db.js';

export type Rating = 'up' | 'down';

export interface FeedbackRow {
  run_id: string;
  thread_id: string;
  agent: string;
  rating: Rating;
  comment: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

/** Stores or changes the rating of a run (the caller checked the run is the user's and finished). */
export async function upsertFeedback(q: Queryable, f: { runId: string; userId: string; agent: string; rating: Rating; comment: string | null }): Promise<FeedbackRow> {
  const rows = await q.query<FeedbackRow & Record<string, unknown>>(
    `WITH f AS (
       INSERT INTO run_feedback (run_id, user_id, agent, rating, comment) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (run_id) DO UPDATE SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, updated_at = now()
       RETURNING run_id, agent, rating, comment, created_at, updated_at
     )
     SELECT f.*, r.thread_id FROM f JOIN runs r ON r.id = f.run_id`,
    [f.runId, f.userId, f.agent, f.rating, f.comment],
  );
  return rows[0]!;
}

/** The user's ratings, most recently changed first. */
export async function userFeedback(q: Queryable, userId: string, limit: number): Promise<FeedbackRow[]> {
  return q.query<FeedbackRow & Record<string, unknown>>(
    `SELECT f.run_id, r.thread_id, f.agent, f.rating, f.comment, f.created_at, f.updated_at
     FROM run_feedback f JOIN runs r ON r.id = f.run_id
     WHERE f.user_id = $1 ORDER BY f.updated_at DESC, f.run_id LIMIT $2`,
    [userId, limit],
  );
}

/** The rating of one run, if any. */
export async function runFeedback(q: Queryable, runId: string): Promise<FeedbackRow | undefined> {
  const rows = await q.query<FeedbackRow & Record<string, unknown>>(
    `SELECT f.run_id, r.thread_id, f.agent, f.rating, f.comment, f.created_at, f.updated_at
     FROM run_feedback f JOIN runs r ON r.id = f.run_id WHERE f.run_id = $1`,
    [runId],
  );
  return rows[0];
}

/** Ratings per agent and UTC day of their last change (operators' summary), newest day first. */
export async function feedbackByAgentDay(q: Queryable, days: number): Promise<Array<{ agent: string; day: string; up: number; down: number }>> {
  return q.query<{ agent: string; day: string; up: number; down: number }>(
    `SELECT agent, to_char((updated_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day,
       count(*) FILTER (WHERE rating = 'up')::int AS up, count(*) FILTER (WHERE rating = 'down')::int AS down
     FROM run_feedback WHERE updated_at >= now() - $1::int * interval '1 day'
     GROUP BY 1, 2 ORDER BY 2 DESC, 1`,
    [days],
  );
}

/** Current ratings per agent (the /metrics gauges). */
export async function feedbackCounts(q: Queryable): Promise<Array<{ agent: string; up: number; down: number }>> {
  return q.query<{ agent: string; up: number; down: number }>(
    `SELECT agent, count(*) FILTER (WHERE rating = 'up')::int AS up, count(*) FILTER (WHERE rating = 'down')::int AS down
     FROM run_feedback GROUP BY agent ORDER BY agent`,
  );
}
