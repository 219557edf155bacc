// A run whose every attempt fails the same way (here: its stored log is one the run statechart
// refuses to replay, so no attempt gets as far as the agent) is tried RUN_MAX_ATTEMPTS times with
// a backoff between attempts, then ends with `agent_error attempts_exhausted`, and the log says
// why, with the error's stack. It is not retried every LEASE_MS until RUN_TIMEOUT_MS.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import type { RunEvent } from '../../src/protocol/events.js';
import { appendEvent } from '../../src/store/event-log.js';
import { claimRun, insertRun } from '../../src/store/run-status.js';
import { insertThread } from '../../src/store/threads.js';
import { scriptedAgent } from '../helpers/agents.js';
import { backends } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MAX_ATTEMPTS = 3;

describe.each(backends)('a run that fails on every attempt, on %s', (backend) => {
  let server: TestServer;
  const lines: Array<{ level: string; msg: string; runId?: string; failedAttempts?: number; retryInMs?: number; err?: { type: string; message: string; stack: string } }> = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as (typeof lines)[number]);
        done();
      },
    });
    server = await startServer(backend, {
      agents: [scriptedAgent],
      log: createLogger('warn', sink),
      // A short lease: the scan for lapsed leases runs every half lease, and retries wait for it.
      env: { RUN_MAX_ATTEMPTS: String(MAX_ATTEMPTS), RUN_RETRY_DELAY_MS: '50', LEASE_MS: '1000', RUN_TIMEOUT_MS: '600000' },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(`ends with attempts_exhausted after ${MAX_ATTEMPTS} attempts, each failure logged with its stack`, async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    // A run of this user whose first attempt stored a log the statechart refuses (a tool call
    // completed that never started), then died: its lease lapsed with its owner still named.
    const db = server.runtime.database;
    const threadId = randomUUID();
    const runId = randomUUID();
    await insertThread(db, { id: threadId, userId: u.userId, title: 't' });
    await insertRun(db, { id: runId, threadId, userId: u.userId, agent: 'scripted', input: { text: 'go' }, status: 'queued' });
    await claimRun(db, runId, { owner: 'dead-node', ms: 60_000 });
    const bodies = [
      { type: 'agent_started', agent: 'scripted', input: { text: 'go' } },
      { type: 'tool_completed', toolCallId: 'never-started', tool: 'pricing_lookup', ok: true, result: null, durationMs: 1 },
    ];
    for (const [i, body] of bodies.entries()) {
      const event = { ...body, runId, threadId, seq: i + 1, ts: new Date().toISOString() } as RunEvent;
      await appendEvent(db, { event, attempt: 1, json: JSON.stringify(event) });
    }
    c.send({ type: 'resume', runs: [{ runId, afterSeq: 0 }] });
    await db.query(`UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [runId]);

    const events = await c.runEvents(runId);
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'agent_started'],
      [2, 'tool_completed'],
      [3, 'agent_error'],
    ]);
    expect(events[2]).toMatchObject({ code: 'attempts_exhausted', retryable: false, message: `the run failed on each of its ${MAX_ATTEMPTS} attempts` });
    // The dead attempt, then two that failed replaying: three attempts, no more.
    const [row] = await db.query<{ status: string; attempt: number; failed_attempts: number }>(
      'SELECT status, attempt, failed_attempts FROM runs WHERE id = $1',
      [runId],
    );
    expect(row).toEqual({ status: 'failed', attempt: MAX_ATTEMPTS, failed_attempts: MAX_ATTEMPTS - 1 });

    const mine = lines.filter((l) => l.runId === runId);
    const retried = mine.filter((l) => l.msg === 'run attempt failed; the run is tried again later');
    expect(retried.map((l) => l.failedAttempts)).toEqual([2]);
    expect(retried[0]!.retryInMs).toBeGreaterThanOrEqual(50);
    const exhausted = mine.filter((l) => l.msg === 'run attempts exhausted: the last attempt failed');
    expect(exhausted).toHaveLength(1);
    expect(exhausted[0]).toMatchObject({ level: 'error', failedAttempts: MAX_ATTEMPTS, err: { type: 'IllegalEventError' } });
    expect(exhausted[0]!.err!.stack).toMatch(/tool_completed refused: toolCallId never-started names no open tool call[\s\S]*recorder/);
  });
});
