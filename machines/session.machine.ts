// The life of one user's session on this node: whether it carries runs, when it ends, and what
// that means for its sockets. Pure: its actions (`carryRun`, `closeSockets`, `endSession`) are
// named here and implemented by the hub (`src/session/hub.ts`, with `sessionMachine.provide`),
// which runs the actions XState's `transition` returns; the visualizer's actors run the same
// implementations. The sockets themselves are the hub's (one registry of a user's sockets); the
// machine is told how many remain when one closes.
import { assign, setup } from 'xstate';

export type SessionMachineEvent =
  /** `remaining`: the user's sockets still open on this node after this one. */
  | { type: 'SOCKET_CLOSED'; socketId: string; remaining: number }
  /** A run of the user was accepted on this node: every socket carries it from its start. */
  | { type: 'RUN_ACCEPTED'; runId: string }
  /** A run's first event reached the session (accepted elsewhere, or delivered here). */
  | { type: 'RUN_ACTIVE'; runId: string }
  | { type: 'RUN_FINISHED'; runId: string }
  | { type: 'SHUTDOWN'; code: number; reason: string };

export interface SessionMachineContext {
  userId: string;
  /** Runs of the user in flight, as far as this session has seen. */
  activeRuns: string[];
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionMachineContext,
    events: {} as SessionMachineEvent,
    input: {} as { userId: string },
  },
  guards: {
    lastSocket: ({ event }) => event.type === 'SOCKET_CLOSED' && event.remaining === 0,
    lastRun: ({ context, event }) =>
      event.type === 'RUN_FINISHED' && context.activeRuns.length === 1 && context.activeRuns[0] === event.runId,
  },
  actions: {
    addRun: assign(({ context, event }) =>
      (event.type === 'RUN_ACTIVE' || event.type === 'RUN_ACCEPTED') && !context.activeRuns.includes(event.runId)
        ? { activeRuns: [...context.activeRuns, event.runId] }
        : {},
    ),
    removeRun: assign(({ context, event }) =>
      event.type === 'RUN_FINISHED' ? { activeRuns: context.activeRuns.filter((r) => r !== event.runId) } : {},
    ),
    /** Every open socket of the user starts carrying the run (effect: the hub's cursors). */
    carryRun: (_, _params: { runId: string }) => {},
    /** Every open socket of the user is closed (effect: the hub's sinks). */
    closeSockets: (_, _params: { code: number; reason: string }) => {},
    /** The session is over: the hub forgets it. */
    endSession: () => {},
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ userId: input.userId, activeRuns: [] }),
  initial: 'connected',
  states: {
    connected: {
      description: 'At least one socket of the user is open on this node.',
      initial: 'idle',
      on: {
        SOCKET_CLOSED: { guard: 'lastSocket', target: 'closed' },
        SHUTDOWN: {
          target: 'draining',
          actions: { type: 'closeSockets', params: ({ event }) => ({ code: event.code, reason: event.reason }) },
        },
      },
      states: {
        idle: {
          description: 'No run of this user is in flight on this session.',
          on: {
            RUN_ACCEPTED: { target: 'carrying', actions: ['addRun', { type: 'carryRun', params: ({ event }) => ({ runId: event.runId }) }] },
            RUN_ACTIVE: { target: 'carrying', actions: 'addRun' },
          },
        },
        carrying: {
          description: 'Runs are in flight; their events are being delivered to the sockets.',
          on: {
            RUN_ACCEPTED: { actions: ['addRun', { type: 'carryRun', params: ({ event }) => ({ runId: event.runId }) }] },
            RUN_ACTIVE: { actions: 'addRun' },
            RUN_FINISHED: [{ guard: 'lastRun', target: 'idle', actions: 'removeRun' }, { actions: 'removeRun' }],
          },
        },
      },
    },
    draining: {
      description: 'The node is shutting down: sockets are being closed with 1001.',
      on: { SOCKET_CLOSED: { guard: 'lastSocket', target: 'closed' } },
    },
    closed: { type: 'final', entry: 'endSession' },
  },
});
