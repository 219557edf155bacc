// A scope for stepping a machine with its own `transition` (and `getInitialSnapshot`), made once.
// XState's exported `transition(logic, snapshot, event)` builds a throwaway actor per call, and
// that actor's constructor computes the machine's initial snapshot: on this project's hot paths
// (the run statechart before every append, the session statechart for every run) that was most of
// the cost of a step. The scope is an actor never started, whose system no inspector watches.
// Safe to share because these machines spawn and invoke nothing. The actions a step resolves
// (other than `assign`, which is applied to the snapshot) go to the scope's `actionExecutor`,
// which the caller may replace: the session chart collects them and runs them after the step.
import { createActor, type AnyActorScope, type AnyStateMachine } from 'xstate';

export function inertScope(machine: AnyStateMachine): AnyActorScope {
  const actor = createActor(machine);
  return {
    self: actor,
    id: '',
    sessionId: '',
    logger: () => undefined,
    defer: () => undefined,
    emit: () => undefined,
    system: actor.system,
    stopChild: () => undefined,
    actionExecutor: () => undefined,
  } as unknown as AnyActorScope;
}
