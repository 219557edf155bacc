// Replay of a stored run: its events stepped through the run statechart one by one, each with
// the state it leads to, its timing, and whether the statechart refuses it. A refused event is
// kept in the list, marked, and leaves the state as it was (the recorder would not have stored it,
// so a refusal here means the log and today's machine disagree).
import { initialRunSnapshot, stepRun } from '../../machines/run.machine.js';
import type { RunEvent, RunEventBody } from '../protocol/events.js';
import { toMachineEvent } from '../runs/recorder.js';
import { activeStateIds } from './graph.js';

export interface ReplayStep {
  seq: number;
  type: string;
  ts: string;
  /** The stored event as a client saw it. */
  event: RunEvent;
  accepted: boolean;
  /** State after the event (unchanged when refused). */
  value: unknown;
  states: string[];
  /** Milliseconds since the first event and since the previous one. */
  sinceStartMs: number;
  sincePrevMs: number;
}

export interface Replay {
  initial: { value: unknown; states: string[] };
  steps: ReplayStep[];
  refused: number;
  /** Status of the statechart after the last event. */
  status: 'active' | 'done';
}

export function replayEvents(events: readonly RunEvent[]): Replay {
  let snap = initialRunSnapshot();
  const initial = { value: snap.value, states: activeStateIds('run', snap.value) };
  const first = events[0] ? Date.parse(events[0].ts) : 0;
  let prev = first;
  let refused = 0;
  const steps = events.map((event): ReplayStep => {
    const next = stepRun(snap, toMachineEvent(event as RunEventBody));
    if (next) snap = next;
    else refused++;
    const t = Date.parse(event.ts);
    const step = {
      seq: event.seq,
      type: event.type,
      ts: event.ts,
      event,
      accepted: next !== undefined,
      value: snap.value,
      states: activeStateIds('run', snap.value),
      sinceStartMs: t - first,
      sincePrevMs: t - prev,
    };
    prev = t;
    return step;
  });
  return { initial, steps, refused, status: snap.status === 'done' ? 'done' : 'active' };
}
