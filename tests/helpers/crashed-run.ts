// A run whose first attempt stored some events and died (its lease lapsed), claimed again by a
// second attempt: the starting point of every takeover test.
import { randomUUID } from 'node:crypto';
import type { RunEvent } from '../../src/protocol/events.js';
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
