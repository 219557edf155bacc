// The session statechart (machines/session.machine.ts): runs and the end of one user's session on
// this node, and the actions it asks for, stepped with XState's pure `transition` as the hub does.
import { describe, it, expect } from 'vitest';
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import { sessionMachine, type SessionMachineEvent } from '../../../machines/session.machine.js';

type Snap = SnapshotFrom<typeof sessionMachine>;

/** Steps the machine through `events`; returns the last snapshot and the custom actions asked for, with their params. */
function run(events: SessionMachineEvent[], from?: Snap): { snap: Snap; actions: Array<{ type: string; params: unknown }> } {
  let snap = from ?? initialTransition(sessionMachine, { userId: 'u1' })[0];
  const actions: Array<{ type: string; params: unknown }> = [];
  for (const e of events) {
    const [next, todo] = transition(sessionMachine, snap, e);
    snap = next;
    for (const a of todo) if (!a.type.startsWith('xstate.')) actions.push({ type: a.type, params: a.params });
  }
  return { snap, actions };
}

describe('session machine', () => {
  it('starts connected.idle, carrying nothing', () => {
    const { snap, actions } = run([]);
    expect(snap.value).toEqual({ connected: 'idle' });
    expect(snap.context).toEqual({ userId: 'u1', activeRuns: [] });
    expect(actions).toEqual([]);
  });

  it('a run accepted here asks every socket to carry it; one seen starting elsewhere only counts', () => {
    expect(run([{ type: 'RUN_ACCEPTED', runId: 'r1' }]).actions).toEqual([{ type: 'carryRun', params: { runId: 'r1' } }]);
    const { snap, actions } = run([{ type: 'RUN_ACTIVE', runId: 'r1' }, { type: 'RUN_ACCEPTED', runId: 'r2' }]);
    expect(snap.value).toEqual({ connected: 'carrying' });
    expect(snap.context.activeRuns).toEqual(['r1', 'r2']);
    expect(actions).toEqual([{ type: 'carryRun', params: { runId: 'r2' } }]);
  });

  it('idle → carrying while runs are active → idle after the last one finishes', () => {
    let { snap } = run([{ type: 'RUN_FINISHED', runId: 'r0' }]); // nothing in flight: ignored
    expect(snap.value).toEqual({ connected: 'idle' });
    ({ snap } = run([{ type: 'RUN_ACTIVE', runId: 'r1' }, { type: 'RUN_ACTIVE', runId: 'r2' }, { type: 'RUN_ACTIVE', runId: 'r1' }], snap));
    expect(snap.context.activeRuns).toEqual(['r1', 'r2']); // repeated: counted once
    ({ snap } = run([{ type: 'RUN_FINISHED', runId: 'r1' }, { type: 'RUN_FINISHED', runId: 'unknown' }], snap));
    expect(snap.value).toEqual({ connected: 'carrying' });
    expect(snap.context.activeRuns).toEqual(['r2']);
    ({ snap } = run([{ type: 'RUN_FINISHED', runId: 'r2' }], snap));
    expect(snap.value).toEqual({ connected: 'idle' });
    expect(snap.context.activeRuns).toEqual([]);
  });

  it('ends (final, endSession) only when its last socket closes, whatever it carries', () => {
    let { snap, actions } = run([{ type: 'RUN_ACTIVE', runId: 'r1' }, { type: 'SOCKET_CLOSED', socketId: 's1', remaining: 1 }]);
    expect(snap.value).toEqual({ connected: 'carrying' });
    expect(snap.status).toBe('active');
    expect(actions).toEqual([]);
    ({ snap, actions } = run([{ type: 'SOCKET_CLOSED', socketId: 's2', remaining: 0 }], snap));
    expect(snap.value).toBe('closed');
    expect(snap.status).toBe('done');
    expect(actions).toEqual([{ type: 'endSession', params: undefined }]);
  });

  it('SHUTDOWN asks for every socket to be closed with its code, ignores new runs, and ends after the last socket', () => {
    let { snap, actions } = run([{ type: 'RUN_ACTIVE', runId: 'r1' }, { type: 'SHUTDOWN', code: 1001, reason: 'bye' }]);
    expect(snap.value).toBe('draining');
    expect(actions).toEqual([{ type: 'closeSockets', params: { code: 1001, reason: 'bye' } }]);
    ({ snap, actions } = run([{ type: 'RUN_ACCEPTED', runId: 'r2' }, { type: 'SOCKET_CLOSED', socketId: 's1', remaining: 1 }], snap));
    expect(snap.value).toBe('draining');
    expect(actions).toEqual([]);
    ({ snap, actions } = run([{ type: 'SOCKET_CLOSED', socketId: 's2', remaining: 0 }], snap));
    expect(snap.status).toBe('done');
    expect(actions).toEqual([{ type: 'endSession', params: undefined }]);
  });
});
