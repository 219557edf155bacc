// A run whose first attempt stored some events and died (its lease lapsed), claimed again by a
// second attempt: the starting point of every takeover test; `takeOver` runs that second attempt.
import { randomUUID } from 'node:crypto';
import type { AgentRegistry } from '../../src/agents/registry.js';
import { createLogger } from '../../src/log/logger.js';
import type { RunEvent } from '../../src/protocol/events.js';
import { executeRun, type ExecutorDeps, type Outcome } from '../../src/runs/executor.js';
import { RunRecorder } from '../../src/runs/recorder.js';
import { NO_TURNS } from '../../src/runs/scheduler.js';
import type { Db } from '../../src/store/db.js';
import { appendEvent, readEvents } from '../../src/store/event-log.js';
import { claimRun, insertRun, type ClaimedRun } from '../../src/store/run-status.js';
import { insertThread } from '../../src/store/threads.js';
import { insertUser } from '../../src/store/users.js';

export async function crashedRun(
  db: Db,
  o: { agent: string; text: string; events: Array<Record<string, unknown>> },
): Promise<{ run: ClaimedRun; stored: RunEvent[]; userId: string; threadId: string; runId: string }> {
  const userId = randomUUID();
  const threadId = randomUUID();
  const runId = randomUUID();
  await insertUser(db, { id: userId, username: `u-${userId}`, passwordHash: 'x' });
  await insertThread(db, { id: threadId, userId, title: 't' });
  await insertRun(db, { id: runId, threadId, userId, agent: o.agent, input: { text: o.text }, status: 'queued' });
  await claimRun(db, runId, { owner: 'dead', ms: 1 });
  let seq = 0;
  for (const body of [{ type: 'agent_started', agent: o.agent, input: { text: o.text } }, ...o.events]) {
    const event = { ...body, runId, threadId, seq: ++seq, ts: new Date().toISOString() } as RunEvent;
    await appendEvent(db, { event, attempt: 1, json: JSON.stringify(event) });
  }
  await db.query(`UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [runId]);
  const run = (await claimRun(db, runId, { owner: 'alive', ms: 60_000 }))!;
  const stored = (await readEvents(db, runId, 0)).map((s) => s.event);
  return { run, stored, userId, threadId, runId };
}

/** An attempt's dependencies for tests that execute one run alone: no history, no next turn, silent. */
export const attemptDeps = (db: Db, agents: AgentRegistry): ExecutorDeps => ({
  db,
  agents,
  log: createLogger('silent'),
  history: async () => [],
  turns: NO_TURNS,
  toolTimeoutMs: 5_000,
  runTimeoutMs: 60_000,
});

/**
 * A run whose first attempt stored `events` and died, taken over by a second attempt executing
 * `agents`' agent: the attempt's outcome, the events it published, and the whole log after it.
 */
export async function takeOver(
  db: Db,
  o: { agent: string; text: string; events: Array<Record<string, unknown>>; agents: AgentRegistry; deps?: Partial<ExecutorDeps> },
): Promise<{ run: ClaimedRun; stored: RunEvent[]; outcome: Outcome; published: RunEvent[]; all: RunEvent[] }> {
  const { run, stored } = await crashedRun(db, o);
  const published: RunEvent[] = [];
  const recorder = new RunRecorder({ runId: run.id, threadId: run.thread_id, userId: run.user_id }, run.attempt, db, { publish: (_u, s) => published.push(s.event) }, stored);
  const outcome = await executeRun({ ...attemptDeps(db, o.agents), ...o.deps }, run, recorder, new AbortController().signal);
  const all = (await readEvents(db, run.id, 0)).map((s) => s.event);
  return { run, stored, outcome, published, all };
}
