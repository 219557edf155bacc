// The life of one user's session on this node: which sockets it holds and whether it carries
// runs. Pure: the runtime sends it events and reads its snapshot; IO lives in `src/session`.
import { assign, setup } from 'xstate';

export type SessionMachineEvent =
  | { type: 'SOCKET_OPENED'; socketId: string }
  | { type: 'SOCKET_CLOSED'; socketId: string }
  | { type: 'RUN_ACTIVE'; runId: string }
  | { type: 'RUN_FINISHED'; runId: string }
  | { type: 'SHUTDOWN' };

export interface SessionMachineContext {
  userId: string;
  sockets: string[];
  activeRuns: string[];
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionMachineContext,
    events: {} as SessionMachineEvent,
    input: {} as { userId: string; socketId: string },
  },
  guards: {
    lastSocket: ({ context, event }) =>
      event.type === 'SOCKET_CLOSED' && context.sockets.length === 1 && context.sockets[0] === event.socketId,
    knownSocket: ({ context, event }) => event.type === 'SOCKET_CLOSED' && context.sockets.includes(event.socketId),
    lastRun: ({ context, event }) =>
      event.type === 'RUN_FINISHED' && context.activeRuns.length === 1 && context.activeRuns[0] === event.runId,
  },
  actions: {
    addSocket: assign(({ context, event }) =>
      event.type === 'SOCKET_OPENED' && !context.sockets.includes(event.socketId)
        ? { sockets: [...context.sockets, event.socketId] }
        : {},
    ),
    removeSocket: assign(({ context, event }) =>
      event.type === 'SOCKET_CLOSED' ? { sockets: context.sockets.filter((s) => s !== event.socketId) } : {},
    ),
    addRun: assign(({ context, event }) =>
      event.type === 'RUN_ACTIVE' && !context.activeRuns.includes(event.runId)
        ? { activeRuns: [...context.activeRuns, event.runId] }
        : {},
    ),
    removeRun: assign(({ context, event }) =>
      event.type === 'RUN_FINISHED' ? { activeRuns: context.activeRuns.filter((r) => r !== event.runId) } : {},
    ),
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ userId: input.userId, sockets: [input.socketId], activeRuns: [] }),
  initial: 'connected',
  states: {
    connected: {
      description: 'At least one socket of the user is open on this node.',
      initial: 'idle',
      on: {
        SOCKET_OPENED: { actions: 'addSocket' },
        SOCKET_CLOSED: [
          { guard: 'lastSocket', target: 'closed', actions: 'removeSocket' },
          { guard: 'knownSocket', actions: 'removeSocket' },
        ],
        SHUTDOWN: 'draining',
      },
      states: {
        idle: {
          description: 'No run of this user is in flight on this session.',
          on: { RUN_ACTIVE: { target: 'carrying', actions: 'addRun' } },
        },
        carrying: {
          description: 'Runs are in flight; their events are being delivered to the sockets.',
          on: {
            RUN_ACTIVE: { actions: 'addRun' },
            RUN_FINISHED: [
              { guard: 'lastRun', target: 'idle', actions: 'removeRun' },
              { actions: 'removeRun' },
            ],
          },
        },
      },
    },
    draining: {
      description: 'The node is shutting down: sockets are being closed with 1001.',
      on: {
        SOCKET_CLOSED: [{ guard: 'lastSocket', target: 'closed', actions: 'removeSocket' }, { actions: 'removeSocket' }],
      },
    },
    closed: { type: 'final' },
  },
});
