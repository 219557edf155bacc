// The grammar of one run (PROTOCOL section 4) as a statechart. Pure: no IO. The worker consults
// it before an event is stored; an event it refuses is never stored or sent.
//
//   agent_started ( agent_thinking | agent_output | tool_executing … tool_completed
//                   | input_requested input_received )* terminal
//
// `input_requested` parks the run in `waiting` (only when no tool call is open: an approval is asked
// before its call's `tool_executing`); only the answer to that request, or a terminal
// `agent_error` / `agent_cancelled` (timeout, cancel), may follow.
import { assign, setup, type SnapshotFrom } from 'xstate';
import { inertScope } from './inert-scope.js';

export type RunMachineEvent =
  | { type: 'agent_started' }
  | { type: 'agent_thinking' }
  | { type: 'agent_output'; text: string }
  | { type: 'tool_executing'; toolCallId: string }
  | { type: 'tool_completed'; toolCallId: string }
  | { type: 'input_requested'; interruptId: string }
  | { type: 'input_received'; interruptId: string }
  | { type: 'agent_completed'; text: string }
  | { type: 'agent_error' }
  | { type: 'agent_cancelled' };

export interface RunMachineContext {
  /** Tool calls executing now (started, not completed). */
  openToolCalls: string[];
  /** Every toolCallId seen, so an id is executed and completed exactly once. */
  seenToolCalls: string[];
  /** Concatenation of every `agent_output` so far: `agent_completed.text` must equal it. */
  output: string;
  outputSeen: boolean;
  /** Number of `agent_thinking` events: also gives the thinking transition an action, which `can()` requires. */
  thoughts: number;
  /** Every interruptId asked so far (each asked once); the last one is open while `waiting`. */
  interrupts: string[];
}

export const runMachine = setup({
  types: {
    context: {} as RunMachineContext,
    events: {} as RunMachineEvent,
  },
  guards: {
    newToolCall: ({ context, event }) =>
      event.type === 'tool_executing' && !context.seenToolCalls.includes(event.toolCallId),
    openToolCall: ({ context, event }) =>
      event.type === 'tool_completed' && context.openToolCalls.includes(event.toolCallId),
    lastOpenToolCall: ({ context, event }) =>
      event.type === 'tool_completed' &&
      context.openToolCalls.length === 1 &&
      context.openToolCalls[0] === event.toolCallId,
    newInterrupt: ({ context, event }) => event.type === 'input_requested' && !context.interrupts.includes(event.interruptId),
    answersOpenInterrupt: ({ context, event }) => event.type === 'input_received' && context.interrupts[context.interrupts.length - 1] === event.interruptId,
    answerMatchesOutput: ({ context, event }) =>
      event.type === 'agent_completed' && (!context.outputSeen || event.text === context.output),
  },
  actions: {
    openTool: assign(({ context, event }) =>
      event.type === 'tool_executing'
        ? {
            openToolCalls: [...context.openToolCalls, event.toolCallId],
            seenToolCalls: [...context.seenToolCalls, event.toolCallId],
          }
        : {},
    ),
    closeTool: assign(({ context, event }) =>
      event.type === 'tool_completed'
        ? { openToolCalls: context.openToolCalls.filter((id) => id !== event.toolCallId) }
        : {},
    ),
    ask: assign(({ context, event }) => (event.type === 'input_requested' ? { interrupts: [...context.interrupts, event.interruptId] } : {})),
    countThought: assign(({ context }) => ({ thoughts: context.thoughts + 1 })),
    appendOutput: assign(({ context, event }) =>
      event.type === 'agent_output' ? { output: context.output + event.text, outputSeen: true } : {},
    ),
  },
}).createMachine({
  id: 'run',
  context: { openToolCalls: [], seenToolCalls: [], output: '', outputSeen: false, thoughts: 0, interrupts: [] },
  initial: 'queued',
  states: {
    queued: {
      description: 'Accepted and stored; no event yet.',
      on: { agent_started: 'running' },
    },
    running: {
      initial: 'working',
      on: {
        agent_thinking: { actions: 'countThought' },
        agent_output: { actions: 'appendOutput' },
        agent_error: '#run.failed',
        agent_cancelled: '#run.cancelled',
      },
      states: {
        working: {
          description: 'No tool call open: thinking, streaming output, or finishing.',
          on: {
            tool_executing: { guard: 'newToolCall', target: 'toolCall', actions: 'openTool' },
            input_requested: { guard: 'newInterrupt', target: '#run.waiting', actions: 'ask' },
            agent_completed: { guard: 'answerMatchesOutput', target: '#run.completed' },
          },
        },
        toolCall: {
          description: 'One or more tool calls open; the run cannot complete until each is answered.',
          on: {
            tool_executing: { guard: 'newToolCall', actions: 'openTool' },
            tool_completed: [
              { guard: 'lastOpenToolCall', target: 'working', actions: 'closeTool' },
              { guard: 'openToolCall', actions: 'closeTool' },
            ],
          },
        },
      },
    },
    waiting: {
      description: 'Asked its user (input_requested): parked, no worker holds it, until the answer is stored, a cancel or the input timeout.',
      on: {
        input_received: { guard: 'answersOpenInterrupt', target: '#run.running.working' },
        agent_error: '#run.failed',
        agent_cancelled: '#run.cancelled',
      },
    },
    completed: { type: 'final' },
    failed: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

export type RunSnapshot = SnapshotFrom<typeof runMachine>;

export function initialRunSnapshot(): RunSnapshot {
  return (initial ??= runMachine.getInitialSnapshot(scope));
}

/** Snapshots are immutable (a step returns a new one): every run starts from the same. */
let initial: RunSnapshot | undefined;

/**
 * Applies one event. Returns the next snapshot, or `undefined` if the grammar refuses the event
 * (the caller must then not store it).
 */
export function stepRun(snapshot: RunSnapshot, event: RunMachineEvent): RunSnapshot | undefined {
  if (snapshot.status !== 'active') return undefined;
  // One computation per event (this runs before every append): `can` then `transition` computed
  // the transition twice, and XState's `transition` builds a throwaway actor and system per call.
  // A step XState refuses (no enabled transition, or one with neither target nor action, which is
  // what `can` refuses) hands back the very snapshot it was given; an accepted one never does here,
  // since every transition of this machine changes the state or assigns to the context.
  const next = runMachine.transition(snapshot, event, scope);
  return next === snapshot ? undefined : next;
}

/** The scope `transition` runs in, made once (./inert-scope.ts); this machine executes no action but `assign`. */
const scope = inertScope(runMachine);

/** Folds a whole sequence; `undefined` at the first refused event. */
export function replayRun(events: readonly RunMachineEvent[]): RunSnapshot | undefined {
  let snap: RunSnapshot | undefined = initialRunSnapshot();
  for (const e of events) {
    snap = stepRun(snap, e);
    if (!snap) return undefined;
  }
  return snap;
}

/**
 * Why the grammar refuses `event` in `snapshot`, in words an agent's author can act on (log lines,
 * `agent_error.message`, the test harness's verdict). Call it only for an event `stepRun` refused.
 */
export function refusalReason(snapshot: RunSnapshot, event: RunMachineEvent): string {
  const c = snapshot.context;
  if (snapshot.status !== 'active') return `the run has already ended (${String(snapshot.value)})`;
  if (snapshot.value === 'queued') return 'the run has not started (agent_started comes first)';
  if (snapshot.value === 'waiting' && event.type !== 'input_received') {
    return event.type === 'input_requested' ? 'the run is already waiting for an answer' : 'the run is waiting for its user: only the answer, a cancel or an error may come';
  }
  switch (event.type) {
    case 'agent_started':
      return 'the run has already started';
    case 'tool_executing':
      return `toolCallId ${event.toolCallId} was used before`;
    case 'tool_completed':
      return `toolCallId ${event.toolCallId} names no open tool call`;
    case 'input_requested':
      if (c.openToolCalls.length > 0) return `tool call ${c.openToolCalls.join(', ')} is still open (ask before a tool call, not during one)`;
      return `interruptId ${event.interruptId} was used before`;
    case 'input_received':
      if (snapshot.value !== 'waiting') return 'the run is not waiting for an answer';
      return `interruptId ${event.interruptId} is not the open question`;
    case 'agent_completed':
      if (c.openToolCalls.length > 0) return `tool call ${c.openToolCalls.join(', ')} is still open`;
      return 'its text differs from the agent_output pieces streamed before it (the answer must be their concatenation)';
    default:
      return `not allowed in state ${JSON.stringify(snapshot.value)}`;
  }
}
