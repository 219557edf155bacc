// A thread's messages: the user's questions and the agents' answers, and the history an agent reads.
import { storableText } from '../protocol/text.js';
import type { Queryable } from './db.js';

export interface MessageRow {
  id: string;
  run_id: string | null;
  role: 'user' | 'assistant';
  content: string;
  created_at: Date | string;
}

export async function insertMessage(
  q: Queryable,
  m: { id: string; threadId: string; runId: string | null; role: 'user' | 'assistant'; content: string },
): Promise<void> {
  // An agent's answer may hold NUL or lone surrogates (input was refused at the boundary).
  await q.query('INSERT INTO messages (id, thread_id, run_id, role, content) VALUES ($1, $2, $3, $4, $5)', [
    m.id,
    m.threadId,
    m.runId,
    m.role,
    storableText(m.content),
  ]);
}

export async function threadMessages(q: Queryable, threadId: string, limit = 1000): Promise<MessageRow[]> {
  return q.query<MessageRow & Record<string, unknown>>(
    'SELECT id, run_id, role, content, created_at FROM messages WHERE thread_id = $1 ORDER BY created_at, id LIMIT $2',
    [threadId, limit],
  );
}

/**
 * The thread's messages of the runs created before `beforeRunId`, newest first, at most `limit`:
 * by run (created_at, id), and within a run the answer before the question (reversed, each
 * question precedes its answer).
 */
export async function threadHistoryNewestFirst(
  q: Queryable,
  threadId: string,
  beforeRunId: string,
  limit: number,
): Promise<Array<Pick<MessageRow, 'role' | 'content'>>> {
  return q.query<Pick<MessageRow, 'role' | 'content'> & Record<string, unknown>>(
    `SELECT m.role, m.content
       FROM messages m
       JOIN runs r ON r.id = m.run_id
       JOIN runs cur ON cur.id = $2 AND cur.thread_id = $1
      WHERE m.thread_id = $1 AND (r.created_at, r.id) < (cur.created_at, cur.id)
      ORDER BY r.created_at DESC, r.id DESC, m.role = 'user', m.created_at DESC, m.id DESC
      LIMIT $3`,
    [threadId, beforeRunId, limit],
  );
}
