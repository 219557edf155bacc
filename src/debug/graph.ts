// A machine's own definition turned into a plain graph: states (nested), transitions with their
// events, guards and actions. The visualizer lays it out and `machines:export` writes it, so a
// diagram can never disagree with the machine: nothing in it is drawn by hand.
import type { AnyStateMachine, StateNodeDefinition } from 'xstate';

export interface GraphState {
  /** The XState id, e.g. `run.running.working` (the root's is the machine id). */
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  description?: string;
  /** Id of the initial child, for compound states. */
  initial?: string;
  children: GraphState[];
}

export interface GraphTransition {
  /** Stable within one graph: `source:event:index`. */
  id: string;
  source: string;
  /** Absent: a targetless transition (it runs actions and stays in `source`). */
  target?: string;
  event: string;
  guard?: string;
  actions: string[];
}

export interface MachineGraph {
  id: string;
  root: GraphState;
  transitions: GraphTransition[];
  /** Every event type some transition handles. */
  events: string[];
}

type Def = StateNodeDefinition<never, never>;

const nameOf = (x: unknown): string | undefined => {
  if (typeof x === 'string') return x;
  if (x && typeof x === 'object' && 'type' in x && typeof x.type === 'string') return x.type;
  return undefined;
};

/** A target is a `#id` string in some definitions and the state node itself in others. */
const idOf = (t: unknown): string => {
  const s = typeof t === 'string' ? t : t && typeof t === 'object' && 'id' in t ? String(t.id) : String(t);
  return s.startsWith('#') ? s.slice(1) : s;
};

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const transitions: GraphTransition[] = [];
  const events = new Set<string>();
  const walk = (d: Def): GraphState => {
    const children = Object.values(d.states as Record<string, Def>).map(walk);
    const initialTarget = d.initial?.target?.[0];
    const perEvent = new Map<string, number>();
    for (const t of d.transitions) {
      const event = t.eventType;
      events.add(event);
      const n = perEvent.get(event) ?? 0;
      perEvent.set(event, n + 1);
      const target = t.target?.[0];
      const guard = nameOf(t.guard);
      transitions.push({
        id: `${d.id}:${event}:${n}`,
        source: d.id,
        ...(target !== undefined ? { target: idOf(target) } : {}),
        event,
        ...(guard ? { guard } : {}),
        actions: (t.actions as unknown[]).map(nameOf).filter((a): a is string => a !== undefined),
      });
    }
    return {
      id: d.id,
      key: d.key,
      type: d.type,
      ...(d.description ? { description: d.description } : {}),
      ...(initialTarget !== undefined ? { initial: idOf(initialTarget) } : {}),
      children,
    };
  };
  const root = walk(machine.root.definition as unknown as Def);
  return { id: machine.id, root, transitions, events: [...events].sort() };
}

/** Every state of the graph, depth first (the root first). */
export function allStates(g: MachineGraph): GraphState[] {
  const out: GraphState[] = [];
  const walk = (s: GraphState) => {
    out.push(s);
    s.children.forEach(walk);
  };
  walk(g.root);
  return out;
}

/**
 * The ids of the states a snapshot value is in, outermost first:
 * `{ running: 'working' }` of machine `run` → `run.running`, `run.running.working`.
 */
export function activeStateIds(machineId: string, value: unknown): string[] {
  const out: string[] = [];
  const walk = (prefix: string, v: unknown) => {
    if (typeof v === 'string') out.push(`${prefix}.${v}`);
    else if (v && typeof v === 'object')
      for (const [k, child] of Object.entries(v)) {
        out.push(`${prefix}.${k}`);
        walk(`${prefix}.${k}`, child);
      }
  };
  walk(machineId, value);
  return out;
}
