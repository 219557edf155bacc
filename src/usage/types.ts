// The analyst's data: usage records. The runtime's contracts know nothing of them; the analyst's
// tools read them through `AnalystToolContext.usage`, which the analyst's context factory provides.
import type { ToolContext } from '../agents/types.js';

/** One usage row: what an AI product spent on one model for one feature on one day. */
export interface UsageRecord {
  day: string; // YYYY-MM-DD
  feature: string;
  model: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
}

/** Read access to the calling user's usage records; the user is fixed when the reader is made. */
export interface UsageReader {
  list(range?: { from?: string; to?: string }): Promise<UsageRecord[]>;
}

/** What the analyst's tools receive: the generic tool context and the caller's usage records. */
export type AnalystToolContext = ToolContext & { usage: UsageReader };
