// cancel_run of a finished run is answered with its terminal event, once per socket: a socket that
// has just been sent the terminal (a resume replayed the run) does not get it a second time.
// Found by the crash sweep (docs/reliability.md): a client reconnects after its gateway died,
// resumes, and repeats the cancel the death may have swallowed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { primaryBackend } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe(`cancel_run of a finished run on ${primaryBackend}`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(primaryBackend);
  });
  afterAll(async () => {
    await server?.stop();
  });

  const terminals = (frames: Array<{ type: string; runId?: unknown }>, runId: string) =>
    frames.filter((f) => f.runId === runId && ['agent_completed', 'agent_error', 'agent_cancelled'].includes(f.type)).length;

  it('after a resume delivered the terminal event: not sent again', async () => {
    const alice = await server.register();
    const tab1 = await server.connect(alice.token);
    await tab1.waitType('session_ready');
    const runId = (await tab1.request('Where does my money go?')).runId as string;
    await tab1.runEvents(runId);

    const tab2 = await server.connect(alice.token);
    await tab2.waitType('session_ready');
    tab2.send({ type: 'resume', runs: [{ runId, afterSeq: 0 }] });
    await tab2.waitFor((f) => f.runId === runId && f.type === 'agent_completed');
    tab2.send({ type: 'cancel_run', runId });
    // Frames of a socket are handled in order: the pong comes after the cancel's answer, if any.
    tab2.send({ type: 'ping', id: 'after-cancel' });
    await tab2.waitFor((f) => f.type === 'pong' && f.id === 'after-cancel');
    expect(terminals(tab2.frames, runId)).toBe(1);
  });

  it('on a socket that never carried the run: answered with the terminal event', async () => {
    const bob = await server.register();
    const tab1 = await server.connect(bob.token);
    await tab1.waitType('session_ready');
    const runId = (await tab1.request('Where does my money go?')).runId as string;
    await tab1.runEvents(runId);

    const tab2 = await server.connect(bob.token);
    await tab2.waitType('session_ready');
    tab2.send({ type: 'cancel_run', runId });
    const answer = await tab2.waitFor((f) => f.runId === runId && f.type === 'agent_completed');
    expect(answer.seq).toBeGreaterThan(1);
    tab2.send({ type: 'ping', id: 'after-cancel' });
    await tab2.waitFor((f) => f.type === 'pong' && f.id === 'after-cancel');
    expect(terminals(tab2.frames, runId)).toBe(1);
  });
});
