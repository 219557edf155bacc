// A waiting run outlives every process: `npm start` (the analyst, TOOLS_REQUIRING_APPROVAL=
// pricing_lookup) on the embedded database asks for approval and parks; the process (the only one
// there is) is killed with SIGKILL, started again on the same data directory, and the user's
// answer from a new socket continues the run to its end, with no event lost or sent twice. (A
// graceful restart is tests/e2e/waits.test.ts's, in-process.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayRun, type RunMachineEvent } from '../../machines/run.machine.js';
import type { RunEvent } from '../../src/protocol/events.js';
import { TestClient } from '../helpers/client.js';
import { startServerProcess } from '../helpers/server-process.js';

const start = (dataDir: string) => startServerProcess(dataDir, { TOOLS_REQUIRING_APPROVAL: 'pricing_lookup' });

const grammarHolds = (all: RunEvent[]) => replayRun(all.map((e) => ({ ...e }) as unknown as RunMachineEvent))?.status === 'done';

describe('a waiting run across process ends (npm start, embedded database)', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('answered after SIGKILL and a restart: the run continues on the new process and completes', { timeout: 180_000 }, async () => {
    const signal = 'SIGKILL';
    const dataDir = mkdtempSync(join(tmpdir(), 'agentwire-wait-'));
    dirs.push(dataDir);
    const a = await start(dataDir);
    const creds = { username: `waiter-${signal.toLowerCase()}`, password: 'long enough password' };
    expect((await fetch(`${a.url}/v1/auth/register`, { method: 'POST', body: JSON.stringify(creds) })).status).toBe(201);
    const { token } = (await (await fetch(`${a.url}/v1/auth/login`, { method: 'POST', body: JSON.stringify(creds) })).json()) as { token: string };
    const open = (url: string) => TestClient.open(`${url.replace('http', 'ws')}/v1/ws`, { protocols: ['agentwire.v1', `bearer.${token}`] });

    const first = await open(a.url);
    await first.waitType('session_ready');
    const runId = (await first.request('Where can I save?')).runId as string;
    const question = await first.waitFor((f) => f.type === 'input_requested' && f.runId === runId);
    expect(question).toMatchObject({ kind: 'approval', tool: 'pricing_lookup' });
    // Parked: the run's row says so (read over HTTP, as a client would).
    const parked = await fetch(`${a.url}/v1/threads/${(question.threadId as string) ?? ''}`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await parked.json()) as { runs: Array<{ status: string }> }).runs[0]?.status).toBe('waiting');
    const seenBefore = first.eventsOf(runId);

    a.child.kill(signal);
    await a.exited;
    const b = await start(dataDir);
    try {
      const second = await open(b.url);
      const ready = await second.waitType('session_ready');
      const listed = (ready.runs as Array<Record<string, unknown>>).find((r) => r.runId === runId);
      expect(listed).toMatchObject({ status: 'waiting', waiting: { interruptId: question.interruptId, kind: 'approval', tool: 'pricing_lookup' } });
      second.send({ type: 'resume', runs: [{ runId, afterSeq: question.seq as number }] });
      second.send({ type: 'provide_input', runId, interruptId: question.interruptId, value: { approved: true } });
      const after = await second.runEvents(runId);
      const all = [...seenBefore, ...after];
      // As the client saw them: one gapless sequence across the two processes.
      expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
      expect(after[0]).toMatchObject({ type: 'input_received', value: { approved: true } });
      expect(after.find((e) => e.type === 'tool_executing')).toMatchObject({ tool: 'pricing_lookup' });
      expect(after.find((e) => e.type === 'tool_completed')).toMatchObject({ ok: true });
      expect(all.at(-1)?.type).toBe('agent_completed');
      expect(grammarHolds(all)).toBe(true);
      if (process.env.AGENTWIRE_PRINT_WAIT_FIGURE) {
        console.log(`events of a waiting run across a ${signal} restart, as the client saw them:`);
        for (const e of all) console.log(`  ${e.seq} ${e.type}${e.type === 'input_requested' ? ' ← process stopped here' : ''}`);
      }
    } finally {
      b.child.kill('SIGTERM');
      await b.exited;
    }
  });
});
