// The session statechart (machines/session.machine.ts): sockets and runs of one user on this node.
import { describe, it, expect } from 'vitest';
import { createActor } from 'xstate';
import { sessionMachine } from '../../../machines/session.machine.js';

function start(socketId = 's1') {
  const actor = createActor(sessionMachine, { input: { userId: 'u1', socketId } });
  actor.start();
  return actor;
}

describe('session machine', () => {
  it('starts connected.idle with its first socket', () => {
    const a = start();
    const snap = a.getSnapshot();
    expect(snap.value).toEqual({ connected: 'idle' });
    expect(snap.context).toEqual({ userId: 'u1', sockets: ['s1'], activeRuns: [] });
  });

  it('idle → carrying while runs are active → idle after the last one finishes', () => {
    const a = start();
    a.send({ type: 'RUN_FINISHED', runId: 'r0' }); // nothing in flight: ignored
    expect(a.getSnapshot().value).toEqual({ connected: 'idle' });
    a.send({ type: 'RUN_ACTIVE', runId: 'r1' });
    expect(a.getSnapshot().value).toEqual({ connected: 'carrying' });
    a.send({ type: 'RUN_ACTIVE', runId: 'r2' });
    a.send({ type: 'RUN_ACTIVE', runId: 'r1' }); // repeated: counted once
    expect(a.getSnapshot().context.activeRuns).toEqual(['r1', 'r2']);
    a.send({ type: 'RUN_FINISHED', runId: 'r1' });
    expect(a.getSnapshot().value).toEqual({ connected: 'carrying' });
    a.send({ type: 'RUN_FINISHED', runId: 'unknown' });
    expect(a.getSnapshot().value).toEqual({ connected: 'carrying' });
    expect(a.getSnapshot().context.activeRuns).toEqual(['r2']);
    a.send({ type: 'RUN_FINISHED', runId: 'r2' });
    expect(a.getSnapshot().value).toEqual({ connected: 'idle' });
    expect(a.getSnapshot().context.activeRuns).toEqual([]);
    a.send({ type: 'RUN_ACTIVE', runId: 'r3' });
    expect(a.getSnapshot().value).toEqual({ connected: 'carrying' });
  });

  it('is closed (final) only after its last socket closes, whatever it carries', () => {
    const a = start();
    a.send({ type: 'SOCKET_OPENED', socketId: 's2' });
    a.send({ type: 'SOCKET_OPENED', socketId: 's2' }); // repeated: counted once
    a.send({ type: 'RUN_ACTIVE', runId: 'r1' });
    expect(a.getSnapshot().context.sockets).toEqual(['s1', 's2']);
    a.send({ type: 'SOCKET_CLOSED', socketId: 'nope' }); // unknown: ignored
    a.send({ type: 'SOCKET_CLOSED', socketId: 's1' });
    expect(a.getSnapshot().value).toEqual({ connected: 'carrying' });
    expect(a.getSnapshot().status).toBe('active');
    a.send({ type: 'SOCKET_CLOSED', socketId: 's2' });
    expect(a.getSnapshot().value).toBe('closed');
    expect(a.getSnapshot().status).toBe('done');
    expect(a.getSnapshot().context.sockets).toEqual([]);
  });

  it('an unknown socket closing does not close the session', () => {
    const a = start();
    a.send({ type: 'SOCKET_CLOSED', socketId: 'other' });
    expect(a.getSnapshot().value).toEqual({ connected: 'idle' });
    expect(a.getSnapshot().context.sockets).toEqual(['s1']);
  });

  it('SHUTDOWN drains: it ignores new runs, and closes after the last socket', () => {
    const a = start();
    a.send({ type: 'SOCKET_OPENED', socketId: 's2' });
    a.send({ type: 'RUN_ACTIVE', runId: 'r1' });
    a.send({ type: 'SHUTDOWN' });
    expect(a.getSnapshot().value).toBe('draining');
    a.send({ type: 'RUN_ACTIVE', runId: 'r2' });
    expect(a.getSnapshot().value).toBe('draining');
    a.send({ type: 'SOCKET_CLOSED', socketId: 's1' });
    expect(a.getSnapshot().value).toBe('draining');
    expect(a.getSnapshot().context.sockets).toEqual(['s2']);
    a.send({ type: 'SOCKET_CLOSED', socketId: 's2' });
    expect(a.getSnapshot().value).toBe('closed');
    expect(a.getSnapshot().status).toBe('done');
  });

  it('SHUTDOWN from idle with one socket, then that socket closes', () => {
    const a = start();
    a.send({ type: 'SHUTDOWN' });
    expect(a.getSnapshot().value).toBe('draining');
    a.send({ type: 'SOCKET_CLOSED', socketId: 's1' });
    expect(a.getSnapshot().status).toBe('done');
  });
});
