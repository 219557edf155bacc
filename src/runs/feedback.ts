// Users' ratings of their finished runs: `POST /v1/runs/:runId/feedback` and the `feedback` frame
// (one rating per run, changeable), the caller's list, the operators' summary per agent and day,
// and the counts per agent that /metrics exposes.
import { z } from 'zod';
import { AppError, badRequest } from '../protocol/errors.js';
import { storable } from '../protocol/text.js';
import type { Queryable } from '../store/db.js';
import { feedbackByAgentDay, feedbackCounts, upsertFeedback, userFeedback, type FeedbackRow } from '../store/feedback.js';
import { iso } from '../store/runs.js';
import { ownRun } from './access.js';

export const MAX_COMMENT_CHARS = 2_000;

/** The body of `POST /v1/runs/:runId/feedback`, and the fields of the `feedback` frame. */
export const feedbackBody = z.strictObject({
  rating: z.enum(['up', 'down']),
  comment: storable(z.string().trim().max(MAX_COMMENT_CHARS)).optional(),
});
export type FeedbackBody = z.infer<typeof feedbackBody>;

export interface FeedbackView {
  runId: string;
  threadId: string;
  agent: string;
  rating: 'up' | 'down';
  comment?: string;
  createdAt: string;
  updatedAt: string;
}

export const feedbackView = (r: FeedbackRow): FeedbackView => ({
  runId: r.run_id,
  threadId: r.thread_id,
  agent: r.agent,
  rating: r.rating,
  ...(r.comment ? { comment: r.comment } : {}),
  createdAt: iso(r.created_at)!,
  updatedAt: iso(r.updated_at)!,
});

const FINISHED = ['completed', 'failed', 'cancelled'];

export interface FeedbackDeps {
  db: Queryable;
  /** ADMIN_USERS: the usernames that may read the summary of everyone's ratings. */
  adminUsers: readonly string[];
  usernameOf(userId: string): Promise<string | undefined>;
}

export class FeedbackService {
  /** The counts per agent as last read (refreshed before each /metrics render). */
  private counts: Array<{ agent: string; up: number; down: number }> = [];

  constructor(private readonly d: FeedbackDeps) {}

  /** Rates a finished run of the caller's, or changes its rating. Another user's run is `not_found`. */
  async rate(userId: string, runId: string, body: FeedbackBody): Promise<FeedbackView> {
    const run = await ownRun(this.d.db, userId, runId);
    if (!FINISHED.includes(run.status)) throw badRequest(`feedback: only a finished run can be rated (this one is ${run.status})`);
    const comment = body.comment && body.comment.length > 0 ? body.comment : null;
    return feedbackView(await upsertFeedback(this.d.db, { runId: run.id, userId, agent: run.agent, rating: body.rating, comment }));
  }

  async list(userId: string, limit = 100): Promise<FeedbackView[]> {
    return (await userFeedback(this.d.db, userId, limit)).map(feedbackView);
  }

  /** Everyone's ratings per agent and day, for the operators (ADMIN_USERS) only: anyone else is `forbidden`. */
  async summary(userId: string, days: number): Promise<Array<{ agent: string; day: string; up: number; down: number; positiveShare: number }>> {
    const name = await this.d.usernameOf(userId);
    if (name === undefined || !this.d.adminUsers.includes(name)) throw new AppError('forbidden', 'the feedback summary is for the operators (ADMIN_USERS)');
    return (await feedbackByAgentDay(this.d.db, days)).map((r) => ({ ...r, positiveShare: share(r.up, r.down) }));
  }

  async refreshCounts(): Promise<void> {
    this.counts = await feedbackCounts(this.d.db);
  }

  /** `agentwire_feedback_ratings{agent, rating}`. */
  ratingSamples(): Array<{ labels: { agent: string; rating: string }; value: number }> {
    return this.counts.flatMap((c) => [
      { labels: { agent: c.agent, rating: 'up' }, value: c.up },
      { labels: { agent: c.agent, rating: 'down' }, value: c.down },
    ]);
  }

  /** `agentwire_feedback_positive_ratio{agent}`. */
  shareSamples(): Array<{ labels: { agent: string }; value: number }> {
    return this.counts.map((c) => ({ labels: { agent: c.agent }, value: share(c.up, c.down) }));
  }
}

const share = (up: number, down: number) => (up + down === 0 ? 0 : Math.round((up / (up + down)) * 10_000) / 10_000);
