// `npm start` as a real process on the embedded database: it prints where it listens, answers
// /readyz, serves the golden path, stops on SIGTERM, and keeps users, tokens and threads across
// a restart (the JWT secret is generated once and kept in the data directory).
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.js';
import { register } from '../helpers/http.js';
import { startServerProcess } from '../helpers/server-process.js';

const start = (dataDir: string) => startServerProcess(dataDir);

describe('the server process on the embedded database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'agentwire-proc-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves, stops on SIGTERM, and keeps its data and secret across a restart', async () => {
    const a = await start(dataDir);
    expect((await fetch(`${a.url}/readyz`)).status).toBe(200);
    const creds = { username: 'restart-user', password: 'long enough password' };
    const { token } = await register(a.url, creds);

    const client = await TestClient.open(`${a.url.replace('http', 'ws')}/v1/ws`, { protocols: ['agentwire.v1', `bearer.${token}`] });
    await client.waitType('session_ready');
    const acc = await client.request('What do I spend per feature?');
    const events = await client.runEvents(acc.runId as string);
    expect(events.at(-1)?.type).toBe('agent_completed');

    // The secret was generated into the data directory, private to its owner.
    const secretFile = join(dataDir, 'jwt-secret');
    expect(existsSync(secretFile)).toBe(true);
    expect(statSync(secretFile).mode & 0o077).toBe(0);
    // No log line carries the token or the password.
    expect(a.lines.join('\n')).not.toContain(token);
    expect(a.lines.join('\n')).not.toContain(creds.password);

    a.child.kill('SIGTERM');
    expect(await client.closed).toBe(1001);
    expect(await a.exited).toBe(0);

    const b = await start(dataDir);
    try {
      // The old token still verifies: same secret; the thread and its answer are still there.
      const thread = await fetch(`${b.url}/v1/threads/${acc.threadId as string}`, { headers: { authorization: `Bearer ${token}` } });
      expect(thread.status).toBe(200);
      const body = (await thread.json()) as { messages: Array<{ role: string }>; runs: Array<{ status: string }> };
      expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
      expect(body.runs[0]?.status).toBe('completed');
      const replay = await fetch(`${b.url}/v1/runs/${acc.runId as string}/events?after=0`, { headers: { authorization: `Bearer ${token}` } });
      expect(((await replay.json()) as { events: unknown[] }).events).toEqual(events);
    } finally {
      b.child.kill('SIGTERM');
      await b.exited;
    }
  });
});
