// The run statechart (machines/run.machine.ts) accepts exactly the legal event sequences of
// PROTOCOL section 4, waits for the user included. Checked against a small, independent reference
// implementation of the grammar.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  initialRunSnapshot,
  replayRun,
  stepRun,
  type RunMachineEvent,
  type RunSnapshot,
} from '../../machines/run.machine.js';

// ---------------------------------------------------------------------------------------------
// Reference checker: a plain prefix checker for
//   agent_started ( agent_thinking | agent_output | tool_executing … tool_completed
//                   | input_requested input_received )* terminal
// where a question is asked only with no tool call open, and a waiting run takes only the answer to
// its open question, agent_error or agent_cancelled.
// ---------------------------------------------------------------------------------------------

type Phase = 'queued' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';

interface RefState {
  phase: Phase;
  open: ReadonlySet<string>;
  executed: ReadonlySet<string>;
  outputs: readonly string[];
  asked: ReadonlySet<string>;
  question?: string;
}

const REF_INITIAL: RefState = { phase: 'queued', open: new Set(), executed: new Set(), outputs: [], asked: new Set() };

/** The state after `e`, or `undefined` if `e` is illegal after a prefix that ended in `s`. */
function refStep(s: RefState, e: RunMachineEvent): RefState | undefined {
  if (s.phase === 'queued') return e.type === 'agent_started' ? { ...s, phase: 'running' } : undefined;
  if (s.phase === 'waiting') {
    // Parked: the answer to the open question, or an end from outside (timeout, cancel).
    if (e.type === 'input_received') return e.interruptId === s.question ? { ...s, phase: 'running', question: undefined } : undefined;
    if (e.type === 'agent_error') return { ...s, phase: 'failed' };
    if (e.type === 'agent_cancelled') return { ...s, phase: 'cancelled' };
    return undefined;
  }
  if (s.phase !== 'running') return undefined; // nothing after the terminal event
  switch (e.type) {
    case 'input_requested':
      if (s.open.size > 0 || s.asked.has(e.interruptId)) return undefined; // no call open; each id asked once
      return { ...s, phase: 'waiting', question: e.interruptId, asked: new Set([...s.asked, e.interruptId]) };
    case 'input_received':
      return undefined; // nothing was asked
    case 'agent_started':
      return undefined; // exactly one, first
    case 'agent_thinking':
      return s;
    case 'agent_output':
      return { ...s, outputs: [...s.outputs, e.text] };
    case 'tool_executing':
      if (s.executed.has(e.toolCallId)) return undefined; // each id executed once
      return { ...s, open: new Set([...s.open, e.toolCallId]), executed: new Set([...s.executed, e.toolCallId]) };
    case 'tool_completed': {
      if (!s.open.has(e.toolCallId)) return undefined; // answers an earlier, still open call
      const open = new Set(s.open);
      open.delete(e.toolCallId);
      return { ...s, open };
    }
    case 'agent_completed':
      if (s.open.size > 0) return undefined;
      if (s.outputs.length > 0 && e.text !== s.outputs.join('')) return undefined;
      return { ...s, phase: 'completed' };
    case 'agent_error':
      return { ...s, phase: 'failed' };
    case 'agent_cancelled':
      return { ...s, phase: 'cancelled' };
  }
}

interface RefVerdict {
  /** Index of the first illegal event, or -1. */
  firstIllegal: number;
  /** Phase after the longest legal prefix. */
  phase: Phase;
  /** A complete legal run: no illegal event and a terminal at the end. */
  legal: boolean;
}

function reference(events: readonly RunMachineEvent[]): RefVerdict {
  let s = REF_INITIAL;
  for (let i = 0; i < events.length; i++) {
    const next = refStep(s, events[i]!);
    if (!next) return { firstIllegal: i, phase: s.phase, legal: false };
    s = next;
  }
  const terminal = s.phase === 'completed' || s.phase === 'failed' || s.phase === 'cancelled';
  return { firstIllegal: -1, phase: s.phase, legal: terminal };
}

// ---------------------------------------------------------------------------------------------
// Driving the machine
// ---------------------------------------------------------------------------------------------

const phaseOf = (snap: RunSnapshot): Phase => (typeof snap.value === 'string' ? (snap.value as Phase) : 'running');

interface MachineVerdict {
  firstRefused: number;
  phase: Phase;
  legal: boolean;
}

/** Steps the machine event by event: where it refuses first, and where it stands. */
function machine(events: readonly RunMachineEvent[]): MachineVerdict {
  let snap = initialRunSnapshot();
  for (let i = 0; i < events.length; i++) {
    const next = stepRun(snap, events[i]!);
    if (!next) return { firstRefused: i, phase: phaseOf(snap), legal: false };
    snap = next;
  }
  return { firstRefused: -1, phase: phaseOf(snap), legal: snap.status === 'done' };
}

function expectSameVerdict(events: readonly RunMachineEvent[]): { legal: boolean } {
  const ref = reference(events);
  const got = machine(events);
  expect({ firstIllegal: got.firstRefused, phase: got.phase, legal: got.legal }).toEqual(ref);
  // replayRun folds the same way.
  const replayed = replayRun(events);
  if (ref.firstIllegal >= 0) expect(replayed).toBeUndefined();
  else expect(replayed && phaseOf(replayed)).toBe(ref.phase);
  return { legal: ref.legal };
}

// ---------------------------------------------------------------------------------------------
// (a) Legal sequences, built constructively
// ---------------------------------------------------------------------------------------------

type Step =
  | { kind: 'think' }
  | { kind: 'output'; text: string }
  | { kind: 'exec' }
  | { kind: 'complete'; pick: number }
  | { kind: 'ask' };

type TerminalKind = 'agent_completed' | 'agent_error' | 'agent_cancelled';

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.constant<Step>({ kind: 'think' }),
  fc.string({ maxLength: 4 }).map<Step>((text) => ({ kind: 'output', text })),
  fc.constant<Step>({ kind: 'exec' }),
  fc.nat(20).map<Step>((pick) => ({ kind: 'complete', pick })),
  fc.constant<Step>({ kind: 'ask' }),
);

const terminalArb = fc.constantFrom<TerminalKind>('agent_completed', 'agent_error', 'agent_cancelled');

const legalRunArb: fc.Arbitrary<{ events: RunMachineEvent[]; terminal: TerminalKind }> = fc
  .record({
    steps: fc.array(stepArb, { maxLength: 25 }),
    terminal: terminalArb,
    closeOrder: fc.array(fc.nat(20), { maxLength: 25 }),
    /** An error or a cancel may end a run while it waits (the input timeout, a cancel). */
    endWhileWaiting: fc.boolean(),
  })
  .map(({ steps, terminal, closeOrder, endWhileWaiting }) => {
    const events: RunMachineEvent[] = [{ type: 'agent_started' }];
    const open: string[] = [];
    let nextId = 0;
    let nextQuestion = 0;
    let output = '';
    const closeAll = () => {
      let i = 0;
      while (open.length > 0) {
        const [id] = open.splice((closeOrder[i++] ?? 0) % open.length, 1);
        events.push({ type: 'tool_completed', toolCallId: id! });
      }
    };
    for (const st of steps) {
      if (st.kind === 'ask') {
        // A question comes with no call open, and its answer next.
        closeAll();
        const interruptId = `q-${nextQuestion++}`;
        events.push({ type: 'input_requested', interruptId }, { type: 'input_received', interruptId });
      } else if (st.kind === 'think') events.push({ type: 'agent_thinking' });
      else if (st.kind === 'output') {
        events.push({ type: 'agent_output', text: st.text });
        output += st.text;
      } else if (st.kind === 'exec') {
        const id = `call-${nextId++}`;
        open.push(id);
        events.push({ type: 'tool_executing', toolCallId: id });
      } else if (open.length > 0) {
        const [id] = open.splice(st.pick % open.length, 1);
        events.push({ type: 'tool_completed', toolCallId: id! });
      } else events.push({ type: 'agent_thinking' });
    }
    if (terminal === 'agent_completed') {
      // Every open call must be answered first (in any order).
      closeAll();
      events.push({ type: 'agent_completed', text: output });
      return { events, terminal };
    }
    if (endWhileWaiting) {
      closeAll();
      events.push({ type: 'input_requested', interruptId: `q-${nextQuestion++}` });
    }
    if (terminal === 'agent_error') events.push({ type: 'agent_error' });
    else events.push({ type: 'agent_cancelled' });
    return { events, terminal };
  });

const FINAL_STATE: Record<TerminalKind, Phase> = {
  agent_completed: 'completed',
  agent_error: 'failed',
  agent_cancelled: 'cancelled',
};

// ---------------------------------------------------------------------------------------------
// (b) Arbitrary sequences over a small alphabet
// ---------------------------------------------------------------------------------------------

const IDS = ['a', 'b', 'c'] as const;
const QUESTIONS = ['i', 'j'] as const;
const TEXTS = ['', 'x', 'y', 'xy'] as const;
/** `agent_completed` whose text is resolved to the concatenation of the outputs before it. */
const MATCHING = '\u0000matching';

const letterArb: fc.Arbitrary<RunMachineEvent> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<RunMachineEvent>({ type: 'agent_started' }) },
  { weight: 2, arbitrary: fc.constant<RunMachineEvent>({ type: 'agent_thinking' }) },
  { weight: 3, arbitrary: fc.constantFrom(...TEXTS).map<RunMachineEvent>((text) => ({ type: 'agent_output', text })) },
  { weight: 4, arbitrary: fc.constantFrom(...IDS).map<RunMachineEvent>((toolCallId) => ({ type: 'tool_executing', toolCallId })) },
  { weight: 4, arbitrary: fc.constantFrom(...IDS).map<RunMachineEvent>((toolCallId) => ({ type: 'tool_completed', toolCallId })) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(...TEXTS, MATCHING, MATCHING).map<RunMachineEvent>((text) => ({ type: 'agent_completed', text })),
  },
  { weight: 1, arbitrary: fc.constant<RunMachineEvent>({ type: 'agent_error' }) },
  { weight: 1, arbitrary: fc.constant<RunMachineEvent>({ type: 'agent_cancelled' }) },
  { weight: 2, arbitrary: fc.constantFrom(...QUESTIONS).map<RunMachineEvent>((interruptId) => ({ type: 'input_requested', interruptId })) },
  { weight: 2, arbitrary: fc.constantFrom(...QUESTIONS).map<RunMachineEvent>((interruptId) => ({ type: 'input_received', interruptId })) },
);

const arbitrarySeqArb: fc.Arbitrary<RunMachineEvent[]> = fc
  .tuple(
    fc.boolean(),
    fc.array(letterArb, { maxLength: 14 }),
    // Often end on a terminal, so complete legal runs are common too.
    fc.option(
      fc.constantFrom<RunMachineEvent>({ type: 'agent_completed', text: MATCHING }, { type: 'agent_error' }, { type: 'agent_cancelled' }),
      { freq: 2 },
    ),
  )
  .map(([startFirst, rest, end]) => {
    const raw: RunMachineEvent[] = [...(startFirst ? [{ type: 'agent_started' } as const] : []), ...rest, ...(end ? [end] : [])];
    let output = '';
    return raw.map((e) => {
      if (e.type === 'agent_output') output += e.text;
      return e.type === 'agent_completed' && e.text === MATCHING ? { type: 'agent_completed', text: output } : e;
    });
  });

// ---------------------------------------------------------------------------------------------
// (c) Mutations of legal sequences
// ---------------------------------------------------------------------------------------------

type Mutation =
  | { kind: 'drop'; i: number }
  | { kind: 'duplicate'; i: number }
  | { kind: 'swap'; i: number; j: number }
  | { kind: 'after_terminal'; e: RunMachineEvent };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map<Mutation>((i) => ({ kind: 'drop', i })),
  fc.nat().map<Mutation>((i) => ({ kind: 'duplicate', i })),
  fc.tuple(fc.nat(), fc.nat()).map<Mutation>(([i, j]) => ({ kind: 'swap', i, j })),
  letterArb.map<Mutation>((e) => ({ kind: 'after_terminal', e: e.type === 'agent_completed' && e.text === MATCHING ? { ...e, text: '' } : e })),
);

function mutate(events: readonly RunMachineEvent[], m: Mutation): RunMachineEvent[] {
  const out = [...events];
  const n = out.length;
  switch (m.kind) {
    case 'drop':
      out.splice(m.i % n, 1);
      return out;
    case 'duplicate':
      out.splice(m.i % n, 0, out[m.i % n]!);
      return out;
    case 'swap': {
      const i = m.i % n;
      const j = m.j % n;
      [out[i], out[j]] = [out[j]!, out[i]!];
      return out;
    }
    case 'after_terminal':
      return [...out, m.e];
  }
}

// ---------------------------------------------------------------------------------------------

describe('run grammar: the statechart accepts exactly the legal sequences (PROTOCOL section 4)', () => {
  it('reference checker sanity: hand-written examples', () => {
    const started = { type: 'agent_started' } as const;
    expect(reference([started, { type: 'agent_completed', text: 'hi' }]).legal).toBe(true);
    expect(reference([started, { type: 'agent_output', text: 'h' }, { type: 'agent_output', text: 'i' }, { type: 'agent_completed', text: 'hi' }]).legal).toBe(true);
    expect(reference([started, { type: 'agent_output', text: 'h' }, { type: 'agent_completed', text: 'hi' }]).firstIllegal).toBe(2);
    expect(reference([started, { type: 'tool_executing', toolCallId: 'a' }, { type: 'agent_completed', text: '' }]).firstIllegal).toBe(2);
    expect(reference([started, { type: 'tool_executing', toolCallId: 'a' }, { type: 'agent_cancelled' }]).legal).toBe(true);
    expect(reference([started, { type: 'tool_completed', toolCallId: 'a' }]).firstIllegal).toBe(1);
    expect(reference([{ type: 'agent_thinking' }]).firstIllegal).toBe(0);
    expect(reference([started]).legal).toBe(false);
    const ask = (interruptId: string) => ({ type: 'input_requested', interruptId }) as const;
    const answer = (interruptId: string) => ({ type: 'input_received', interruptId }) as const;
    expect(reference([started, ask('i'), answer('i'), { type: 'agent_completed', text: '' }]).legal).toBe(true);
    expect(reference([started, ask('i'), { type: 'agent_cancelled' }]).legal).toBe(true);
    expect(reference([started, ask('i'), { type: 'agent_completed', text: '' }]).firstIllegal).toBe(2);
    expect(reference([started, ask('i'), { type: 'agent_thinking' }]).firstIllegal).toBe(2);
    expect(reference([started, ask('i'), answer('j')]).firstIllegal).toBe(2);
    expect(reference([started, ask('i'), answer('i'), answer('i')]).firstIllegal).toBe(3);
    expect(reference([started, ask('i'), answer('i'), ask('i')]).firstIllegal).toBe(3);
    expect(reference([started, { type: 'tool_executing', toolCallId: 'a' }, ask('i')]).firstIllegal).toBe(2);
    expect(machine([started, ask('i'), answer('j')]).firstRefused).toBe(2);
    expect(machine([started, ask('i'), answer('i'), ask('i')]).firstRefused).toBe(3);
    expect(machine([started, { type: 'tool_executing', toolCallId: 'a' }, ask('i')]).firstRefused).toBe(2);
    expect(machine([started, ask('i')]).phase).toBe('waiting');
    // And the machine on the same examples.
    expect(machine([started, { type: 'agent_output', text: 'h' }, { type: 'agent_completed', text: 'hi' }]).firstRefused).toBe(2);
    expect(machine([started, { type: 'tool_executing', toolCallId: 'a' }, { type: 'tool_executing', toolCallId: 'a' }]).firstRefused).toBe(2);
    expect(machine([started, { type: 'tool_executing', toolCallId: 'a' }, { type: 'tool_completed', toolCallId: 'a' }, { type: 'tool_completed', toolCallId: 'a' }]).firstRefused).toBe(3);
    expect(machine([started, { type: 'tool_executing', toolCallId: 'a' }, { type: 'tool_completed', toolCallId: 'a' }, { type: 'tool_executing', toolCallId: 'a' }]).firstRefused).toBe(3);
  });

  it('(a) accepts every constructively built legal sequence and ends in the matching final state', () => {
    const seen = { agent_completed: 0, agent_error: 0, agent_cancelled: 0, parallelTools: 0, waits: 0, endedWaiting: 0 };
    fc.assert(
      fc.property(legalRunArb, ({ events, terminal }) => {
        const ref = reference(events);
        expect(ref.legal).toBe(true); // the generator and the reference agree
        let snap = initialRunSnapshot();
        let open = 0;
        for (const e of events) {
          const next = stepRun(snap, e);
          expect(next, `refused ${JSON.stringify(e)} in ${JSON.stringify(events)}`).toBeDefined();
          snap = next!;
          if (e.type === 'tool_executing' && ++open >= 2) seen.parallelTools++;
          if (e.type === 'tool_completed') open--;
          if (e.type === 'input_received') seen.waits++;
        }
        if (events[events.length - 2]?.type === 'input_requested') seen.endedWaiting++;
        expect(snap.status).toBe('done');
        expect(snap.value).toBe(FINAL_STATE[terminal]);
        expect(replayRun(events)?.value).toBe(FINAL_STATE[terminal]);
        seen[terminal]++;
        // Nothing is accepted after the terminal event.
        expect(stepRun(snap, { type: 'agent_thinking' })).toBeUndefined();
        expect(stepRun(snap, { type: 'agent_cancelled' })).toBeUndefined();
      }),
      { numRuns: 1500 },
    );
    expect(seen.agent_completed).toBeGreaterThan(100);
    expect(seen.agent_error).toBeGreaterThan(100);
    expect(seen.agent_cancelled).toBeGreaterThan(100);
    expect(seen.parallelTools).toBeGreaterThan(100);
    expect(seen.waits).toBeGreaterThan(100);
    expect(seen.endedWaiting).toBeGreaterThan(100);
  });

  it('(b) on arbitrary sequences, refuses exactly at the first illegal event and agrees on every prefix', () => {
    let legal = 0;
    let refusedLate = 0;
    fc.assert(
      fc.property(arbitrarySeqArb, (events) => {
        const v = expectSameVerdict(events);
        if (v.legal) legal++;
        if (reference(events).firstIllegal >= 3) refusedLate++;
        // Every prefix: acceptance of the prefix equals the reference's.
        for (let k = 0; k <= events.length; k++) {
          const prefix = events.slice(0, k);
          expect(replayRun(prefix) !== undefined).toBe(reference(prefix).firstIllegal === -1);
        }
      }),
      { numRuns: 2000 },
    );
    // The alphabet is small enough that both verdicts are common (typically ~100 legal and ~200
    // late refusals; the floors are a third of that, so a seed never makes them flaky).
    expect(legal).toBeGreaterThan(20);
    expect(refusedLate).toBeGreaterThan(60);
  });

  it('(c) mutated legal sequences: the verdict agrees with the reference, and most are illegal', () => {
    let illegal = 0;
    let total = 0;
    fc.assert(
      fc.property(legalRunArb, mutationArb, ({ events }, m) => {
        const mutated = mutate(events, m);
        const { legal } = expectSameVerdict(mutated);
        total++;
        if (!legal) illegal++;
        const i = m.kind === 'swap' ? -1 : 'i' in m ? m.i % events.length : -1;
        const target = i >= 0 ? events[i]! : undefined;
        // Mutations that can never leave a legal run.
        if (m.kind === 'after_terminal') expect(legal).toBe(false);
        if ((m.kind === 'drop' || m.kind === 'duplicate') && target) {
          const t = target.type;
          if (t === 'agent_started' || t === 'agent_completed' || t === 'agent_error' || t === 'agent_cancelled') {
            expect(legal).toBe(false);
          }
          if (m.kind === 'duplicate' && (t === 'tool_executing' || t === 'tool_completed' || t === 'input_requested' || t === 'input_received')) {
            expect(legal).toBe(false);
          }
          // A question never answered cannot be followed by the run's work.
          if (m.kind === 'drop' && t === 'input_received' && events[i + 1]?.type !== 'agent_error' && events[i + 1]?.type !== 'agent_cancelled') {
            expect(legal).toBe(false);
          }
        }
      }),
      { numRuns: 1500 },
    );
    expect(illegal / total).toBeGreaterThan(0.5);
  });
});
