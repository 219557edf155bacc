// Reading threads over HTTP: the caller's only.
import { z } from 'zod';
import { badRequest } from '../protocol/errors.js';
import type { Db } from '../store/db.js';
import { ownThread } from './access.js';
import { iso, threadRuns, type RunRow } from '../store/runs.js';
import { listThreads, type ThreadRow } from '../store/threads.js';
import { threadHistoryNewestFirst, threadMessages } from '../store/messages.js';

/** Messages a run's agent gets from its thread at most (the LLM agent trims further, by tokens). */
export const HISTORY_MESSAGES = 400;

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

const threadJson = (t: ThreadRow) => ({
  threadId: t.id,
  title: t.title,
  createdAt: iso(t.created_at),
  updatedAt: iso(t.updated_at),
});

export const runJson = (r: RunRow) => ({
  runId: r.id,
  threadId: r.thread_id,
  agent: r.agent,
  input: r.input,
  status: r.status,
  lastSeq: r.last_seq,
  createdAt: iso(r.created_at),
  finishedAt: iso(r.finished_at),
});

/** Cursors are opaque to clients: base64url of the last thread's (createdAt, id). */
const encodeCursor = (t: ThreadRow) => Buffer.from(JSON.stringify([iso(t.created_at), t.id])).toString('base64url');
function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const [createdAt, id] = z.tuple([z.iso.datetime(), z.uuid()]).parse(v);
    return { createdAt, id };
  } catch {
    throw badRequest('cursor is not one this server issued');
  }
}

export class ThreadService {
  constructor(private readonly db: Db) {}

  async list(userId: string, q: { limit: number; cursor?: string | undefined }) {
    const before = q.cursor ? decodeCursor(q.cursor) : undefined;
    const rows = await listThreads(this.db, userId, { limit: q.limit + 1, ...(before ? { before } : {}) });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      threads: page.map(threadJson),
      nextCursor: rows.length > q.limit && last ? encodeCursor(last) : null,
    };
  }

  async get(userId: string, threadId: string) {
    const thread = await ownThread(this.db, userId, threadId);
    const [messages, runs] = await Promise.all([threadMessages(this.db, thread.id), threadRuns(this.db, thread.id)]);
    return {
      thread: threadJson(thread),
      messages: messages.map((m) => ({ messageId: m.id, runId: m.run_id, role: m.role, content: m.content, createdAt: iso(m.created_at) })),
      runs: runs.map(runJson),
    };
  }

  /**
   * The thread's conversation before a run, oldest first: the questions and answers of the runs
   * created before it, the newest `HISTORY_MESSAGES` of them (a long thread loses its oldest
   * turns, never its latest). Ordered by run, not by time, so an answer that arrived after a later
   * question was queued still follows its own question.
   */
  async history(threadId: string, runId: string): Promise<Array<{ role: 'user' | 'assistant'; content: string }>> {
    const newestFirst = await threadHistoryNewestFirst(this.db, threadId, runId, HISTORY_MESSAGES);
    return newestFirst.reverse().map((m) => ({ role: m.role, content: m.content }));
  }
}
