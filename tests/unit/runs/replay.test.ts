// The takeover replay (src/runs/replay.ts) as pure functions of a stored history, no database and
// no agent: which of an agent's steps are replayed (nothing stored or called again), where the
// attempt goes live, what becomes of the tool calls the crash left open (made again under their
// own id, or closed as interrupted), and what `resume()` gives a model. Each table row is a history
// an attempt could have left; tests/integration/replay-table.test.ts runs the same kind of table
// through a real attempt on a real database.
import { describe, expect, it } from 'vitest';
import type { RunEvent, RunEventOf } from '../../../src/protocol/events.js';
import { openCallActions, pendingAnswer, priorSteps, Replay } from '../../../src/runs/replay.js';

const base = { runId: 'r', threadId: 't', ts: '2026-01-01T00:00:00.000Z' };
/** A stored history: agent_started, then `events`, with their seqs. */
const history = (...events: Array<Record<string, unknown>>): RunEvent[] =>
  [{ type: 'agent_started', agent: 'a', input: { text: 'go' } }, ...events].map((e, i) => ({ ...base, ...e, seq: i + 1 }) as RunEvent);

const think = (text: string, agent?: string) => ({ type: 'agent_thinking', text, ...(agent ? { agent } : {}) });
const output = (text: string) => ({ type: 'agent_output', text });
const exec = (id: string, tool: string, args: unknown, agent?: string) => ({ type: 'tool_executing', toolCallId: id, tool, args, ...(agent ? { agent } : {}) });
const done = (id: string, tool: string, result: unknown, agent?: string) => ({ type: 'tool_completed', toolCallId: id, tool, ok: true, result, durationMs: 1, ...(agent ? { agent } : {}) });
const failed = (id: string, tool: string, error: string) => ({ type: 'tool_completed', toolCallId: id, tool, ok: false, error, durationMs: 1 });
const asked = (id: string, kind: 'approval' | 'input', extra: Record<string, unknown> = {}) => ({ type: 'input_requested', interruptId: id, kind, prompt: 'ok?', ...extra });
const answered = (id: string, value: unknown) => ({ type: 'input_received', interruptId: id, value });

/** An agent's step, as the context matches it against the stored events. */
type Step = { think: string } | { tool: string; args: unknown };
const isStep = (s: Step) => (e: RunEvent): e is RunEvent =>
  'think' in s ? e.type === 'agent_thinking' && e.text === s.think : e.type === 'tool_executing' && e.tool === s.tool && JSON.stringify(e.args) === JSON.stringify(s.args);

/**
 * Walks `steps` through a replay of `stored` as the context does: a step that matches the next
 * stored event is replayed (a tool's stored completion with it); the first that does not makes the
 * attempt live. Returns the steps replayed, whether a replayed call had no stored result (made
 * again now), and the index of the first live step.
 */
function walk(stored: RunEvent[], steps: Step[]) {
  const r = new Replay(stored);
  const replayed: string[] = [];
  const callAgain: string[] = [];
  let liveAt = steps.length;
  for (const [i, s] of steps.entries()) {
    const e = r.take(isStep(s));
    if (!e) {
      liveAt = i;
      break;
    }
    replayed.push('think' in s ? `think:${s.think}` : `tool:${s.tool}`);
    if (e.type === 'tool_executing' && !r.take((c): c is RunEvent => c.type === 'tool_completed' && c.toolCallId === e.toolCallId)) callAgain.push(e.toolCallId);
  }
  return { replayed, callAgain, liveAt, used: r.used };
}

const agentSteps: Step[] = [{ think: 'first' }, { tool: 'double', args: { n: 1 } }, { think: 'second' }, { tool: 'double', args: { n: 2 } }];

describe('replaying an agent over stored histories', () => {
  const cases: Array<{ name: string; stored: RunEvent[]; replayed: string[]; callAgain: string[]; liveAt: number }> = [
    { name: 'nothing but agent_started: live from the first step', stored: history(), replayed: [], callAgain: [], liveAt: 0 },
    { name: 'a stored thought is replayed, live from the next step', stored: history(think('first')), replayed: ['think:first'], callAgain: [], liveAt: 1 },
    { name: 'a stored call with its result is replayed: the tool is not called', stored: history(think('first'), exec('c1', 'double', { n: 1 }), done('c1', 'double', 2)), replayed: ['think:first', 'tool:double'], callAgain: [], liveAt: 2 },
    { name: 'a stored call without its result is made again under its id', stored: history(think('first'), exec('c1', 'double', { n: 1 })), replayed: ['think:first', 'tool:double'], callAgain: ['c1'], liveAt: 2 },
    { name: 'a thought that differs: live from there', stored: history(think('first'), exec('c1', 'double', { n: 1 }), done('c1', 'double', 2), think('second, once')), replayed: ['think:first', 'tool:double'], callAgain: [], liveAt: 2 },
    { name: 'a call with other arguments is not replayed', stored: history(think('first'), exec('c1', 'double', { n: 5 })), replayed: ['think:first'], callAgain: [], liveAt: 1 },
    {
      name: 'every step stored: all replayed',
      stored: history(think('first'), exec('c1', 'double', { n: 1 }), done('c1', 'double', 2), think('second'), exec('c2', 'double', { n: 2 }), done('c2', 'double', 4)),
      replayed: ['think:first', 'tool:double', 'think:second', 'tool:double'],
      callAgain: [],
      liveAt: 4,
    },
  ];
  it.each(cases)('$name', (c) => {
    const w = walk(c.stored, agentSteps);
    expect(w.replayed).toEqual(c.replayed);
    expect(w.callAgain).toEqual(c.callAgain);
    expect(w.liveAt).toBe(c.liveAt);
    expect(w.used).toBe(c.replayed.length > 0);
  });

  it('skips a sub-agent call with its stored answer, its own steps in between', () => {
    const stored = history(exec('s1', 'ask_helper', { task: 'x' }), think('helping', 'helper'), done('s1', 'ask_helper', { text: 'ok' }), think('after'));
    const r = new Replay(stored);
    expect(r.take((e): e is RunEvent => e.type === 'tool_executing')).toMatchObject({ toolCallId: 's1' });
    expect(r.skipPast('s1')).toMatchObject({ type: 'tool_completed', toolCallId: 's1' });
    expect(r.take((e): e is RunEvent => e.type === 'agent_thinking')).toMatchObject({ text: 'after' });
    expect(r.isLive).toBe(true);
  });

  it('finds no answer for a sub-agent call cut off inside, and continues it from just after its start', () => {
    const stored = history(exec('s1', 'ask_helper', { task: 'x' }), think('helping', 'helper'));
    const r = new Replay(stored);
    expect(r.skipPast('s1')).toBeUndefined();
    r.seekAfter(1);
    expect(r.take((e): e is RunEvent => e.type === 'agent_thinking')).toMatchObject({ agent: 'helper' });
    expect(r.isLive).toBe(true);
  });
});

describe('the calls left open when the attempt goes live', () => {
  const isSub = (s: RunEventOf<'tool_executing'>) => s.tool.startsWith('ask_');
  const cases: Array<{ name: string; stored: RunEvent[]; open: string[]; keep?: string[]; actions: string[] }> = [
    { name: 'none open: nothing to do', stored: history(think('first')), open: [], actions: [] },
    { name: 'an open tool call is made again under its own id', stored: history(exec('c1', 'double', { n: 1 })), open: ['c1'], actions: ['rerun:c1'] },
    { name: 'an open sub-agent call is closed as interrupted', stored: history(exec('s1', 'ask_helper', { task: 'x' })), open: ['s1'], actions: ['interrupt:s1:ask_helper'] },
    {
      name: "innermost first: a sub-agent's own call before the call that encloses it",
      stored: history(exec('s1', 'ask_helper', { task: 'x' }), exec('c2', 'double', { n: 1 }, 'helper')),
      open: ['s1', 'c2'],
      actions: ['rerun:c2', 'interrupt:s1:ask_helper'],
    },
    { name: 'a call being continued is left open', stored: history(exec('s1', 'ask_helper', { task: 'x' }), exec('c2', 'double', { n: 1 }, 'helper')), open: ['s1', 'c2'], keep: ['s1'], actions: ['rerun:c2'] },
    { name: 'a call whose start is not in the log is closed as interrupted, tool unknown', stored: history(), open: ['ghost'], actions: ['interrupt:ghost:unknown'] },
  ];
  it.each(cases)('$name', (c) => {
    const actions = openCallActions(c.stored, c.open, new Set(c.keep ?? []), isSub).map((a) => (a.action === 'rerun' ? `rerun:${a.started.toolCallId}` : `interrupt:${a.toolCallId}:${a.tool}`));
    expect(actions).toEqual(c.actions);
  });

  it("keeps a sub-agent's name on the interrupted call it closes", () => {
    const stored = history(exec('s1', 'ask_helper', { task: 'x' }), exec('s2', 'ask_deep', { task: 'y' }, 'helper'));
    expect(openCallActions(stored, ['s1', 's2'], new Set(), isSub)[0]).toEqual({ action: 'interrupt', toolCallId: 's2', tool: 'ask_deep', agent: 'helper' });
  });

  it('says what to do only the first time the attempt goes live', () => {
    const r = new Replay(history(exec('c1', 'double', { n: 1 })));
    expect(r.diverge(['c1'], isSub)).toHaveLength(1);
    expect(r.isLive).toBe(true);
    expect(r.diverge(['c1'], isSub)).toEqual([]);
  });
});

describe('what resume() gives a model', () => {
  it("the run's own steps, calls paired with their outcome, sub-agents' steps left out", () => {
    const stored = history(think('plan'), exec('c1', 'double', { n: 1 }), done('c1', 'double', { doubled: 2 }), exec('c2', 'double', { n: 'x' }), failed('c2', 'double', 'invalid'), exec('s1', 'ask_helper', { task: 't' }), think('helping', 'helper'), done('s1', 'ask_helper', { text: 'h' }), output('The answer'));
    expect(priorSteps(stored.slice(1))).toEqual([
      { kind: 'thinking', text: 'plan' },
      { kind: 'tool', toolCallId: 'c1', tool: 'double', args: { n: 1 }, outcome: { ok: true, result: { doubled: 2 } } },
      { kind: 'tool', toolCallId: 'c2', tool: 'double', args: { n: 'x' }, outcome: { ok: false, error: 'invalid' } },
      { kind: 'tool', toolCallId: 's1', tool: 'ask_helper', args: { task: 't' }, outcome: { ok: true, result: { text: 'h' } } },
      { kind: 'output', text: 'The answer' },
    ]);
  });

  it('an open call has no outcome', () => {
    expect(priorSteps(history(exec('c1', 'double', { n: 1 })).slice(1))).toEqual([{ kind: 'tool', toolCallId: 'c1', tool: 'double', args: { n: 1 } }]);
  });

  it('an approval answered last is the call the model makes now, under the question’s id', () => {
    const stored = history(think('plan'), asked('q1', 'approval', { tool: 'double', args: { n: 3 } }), answered('q1', { approved: true }));
    expect(priorSteps(stored.slice(1))).toEqual([
      { kind: 'thinking', text: 'plan' },
      { kind: 'tool', toolCallId: 'q1', tool: 'double', args: { n: 3 }, answered: true },
    ]);
  });

  it('finds the answer a parked run got, only when it is the last thing stored', () => {
    const q = asked('q1', 'input');
    expect(pendingAnswer(history(q, answered('q1', 'blue')))).toMatchObject({ question: { interruptId: 'q1' }, value: 'blue' });
    expect(pendingAnswer(history(q, answered('q1', 'blue'), think('then')))).toBeUndefined();
    expect(pendingAnswer(history(q))).toBeUndefined();
  });
});
