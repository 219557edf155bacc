// The crash sweep's oracle (scripts/chaos/oracle.ts) finds each kind of breach it claims to find.
import { describe, expect, it } from 'vitest';
import { checkRun, grammarBreach, type Event, type RunFacts } from '../../scripts/chaos/oracle.js';

const runId = 'r1';
const ev = (seq: number, type: string, extra: Record<string, unknown> = {}): Event => ({ runId, threadId: 't', ts: 'x', seq, type, ...extra });
const good: Event[] = [
  ev(1, 'agent_started', { agent: 'a', input: { text: 'q' } }),
  ev(2, 'tool_executing', { toolCallId: 'c1', tool: 'chaos_effect', args: { key: 'k1' } }),
  ev(3, 'tool_completed', { toolCallId: 'c1', tool: 'chaos_effect', ok: true, result: {}, durationMs: 1 }),
  ev(4, 'agent_output', { text: 'Hel' }),
  ev(5, 'agent_output', { text: 'lo' }),
  ev(6, 'agent_completed', { text: 'Hello', usage: { inputTokens: 2, outputTokens: 2 } }),
];
const facts = (o: Partial<RunFacts> = {}): RunFacts => ({
  runId,
  stored: good,
  views: [{ client: 'c', frames: good }],
  effects: [{ toolCallId: 'c1', key: 'k1' }],
  modelCalls: 2,
  ...o,
});
const checks = (f: RunFacts) => checkRun(f).map((b) => b.check);

describe('the crash sweep oracle', () => {
  it('a clean run passes', () => {
    expect(checkRun(facts())).toEqual([]);
  });

  it('finds a seq shown twice, out of order, or missing, and a second terminal event', () => {
    expect(checks(facts({ views: [{ client: 'c', frames: [...good.slice(0, 3), good[2]!, ...good.slice(3)] }] }))).toContain('each seq once');
    expect(checks(facts({ views: [{ client: 'c', frames: [good[0]!, good[2]!, good[1]!, ...good.slice(3)] }] }))).toContain('in order');
    expect(checks(facts({ views: [{ client: 'c', frames: good.slice(0, 5) }] }))).toEqual(expect.arrayContaining(['one terminal event', 'every seq']));
    expect(checks(facts({ views: [{ client: 'c', frames: [...good, good[5]!] }] }))).toContain('one terminal event');
  });

  it('finds a log the grammar refuses (its own checker and the run statechart)', () => {
    const open = [...good.slice(0, 2), ev(3, 'agent_completed', { text: '' })];
    expect(grammarBreach(open)).toMatch(/open calls/);
    expect(checks(facts({ stored: open, views: [] }))).toEqual(expect.arrayContaining(['grammar', 'statechart']));
  });

  it('finds an effect done twice (same call, or the same effect under a new call) and an ok call without its effect', () => {
    expect(checks(facts({ effects: [{ toolCallId: 'c1', key: 'k1' }, { toolCallId: 'c1', key: 'k1' }] }))).toContain('side effect at most once');
    expect(checks(facts({ effects: [{ toolCallId: 'c1', key: 'k1' }, { toolCallId: 'c9', key: 'k1' }] }))).toContain('side effect at most once');
    expect(checks(facts({ effects: [] }))).toContain('ok effect exactly once');
  });

  it('finds an answer that does not begin with what a client was shown, and usage missing a model call', () => {
    const shownElse = [...good.slice(0, 3), ev(4, 'agent_output', { text: 'Bye' }), ...good.slice(4)];
    expect(checks(facts({ views: [{ client: 'c', frames: shownElse }] }))).toContain('answer begins with what was shown');
    expect(checks(facts({ modelCalls: 3 }))).toContain('usage counts every model call');
  });

  describe('a run that asks a person', () => {
    const asked: Event[] = [
      ev(1, 'agent_started', { agent: 'chaos-asker', input: { text: 'q' } }),
      ev(2, 'input_requested', { interruptId: 'i1', kind: 'input', prompt: 'How many seats?' }),
      ev(3, 'input_received', { interruptId: 'i1', value: { seats: 3 } }),
      ev(4, 'agent_output', { text: 'seats: 3' }),
      ev(5, 'agent_completed', { text: 'seats: 3' }),
    ];
    const person = { answers: { input: { seats: 3 }, approval: { approved: true } }, answer: 'seats: 3' };
    const askFacts = (stored: Event[], o: Partial<RunFacts> = {}): RunFacts => ({ runId, stored, views: [{ client: 'c', frames: stored }], effects: [], modelCalls: undefined, person, ...o });

    it('passes when each question is answered once with what the person sent, and the run answers from it', () => {
      expect(checkRun(askFacts(asked))).toEqual([]);
    });

    it('finds a question answered twice, an answer the person did not send, and an answer that did not continue from it', () => {
      const twice = [...asked.slice(0, 3), ev(4, 'input_received', { interruptId: 'i1', value: { seats: 3 } }), ev(5, 'agent_output', { text: 'seats: 3' }), ev(6, 'agent_completed', { text: 'seats: 3' })];
      expect(grammarBreach(twice)).toMatch(/not the open question/);
      expect(checks(askFacts(twice))).toEqual(expect.arrayContaining(['grammar', 'statechart', 'input received once']));
      const other = asked.map((e) => (e.type === 'input_received' ? { ...e, value: { seats: 4 } } : e));
      expect(checks(askFacts(other))).toContain('input received once');
      const restarted = asked.map((e) => (e.type === 'agent_output' || e.type === 'agent_completed' ? { ...e, text: 'seats: 1' } : e));
      expect(checks(askFacts(restarted))).toContain('the answer continues');
    });

    it('finds a question while a call is open, and an event other than its answer after a question', () => {
      const duringCall = [asked[0]!, ev(2, 'tool_executing', { toolCallId: 'c1', tool: 'chaos_effect', args: {} }), ev(3, 'input_requested', { interruptId: 'i1', kind: 'input', prompt: 'p' })];
      expect(grammarBreach(duringCall)).toMatch(/while calls are open/);
      const skipped = [...asked.slice(0, 2), ev(3, 'agent_output', { text: 'seats: 3' }), ev(4, 'agent_completed', { text: 'seats: 3' })];
      expect(grammarBreach(skipped)).toMatch(/not its answer nor an end/);
      expect(checks(askFacts(skipped))).toEqual(expect.arrayContaining(['grammar', 'statechart', 'input received once']));
    });
  });
});
