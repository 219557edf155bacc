// The takeover replay (src/runs/replay.ts, driven by src/runs/agent-context.ts), table-driven over stored histories: for each history
// a crashed first attempt left, the second attempt of the same deterministic agent stores exactly
// the expected events after it, calls the tool only where no result is stored, and keeps the run's
// seqs gapless and its grammar whole. On PGlite (the replay does not depend on the backend;
// tests/integration/takeover.test.ts runs the end-to-end cases on both).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../src/agents/registry.js';
import type { Tool } from '../../src/agents/types.js';
import type { RunEvent } from '../../src/protocol/events.js';
import { migrate } from '../../src/store/migrations.js';
import { doubleTool, stepsAgent } from '../helpers/agents.js';
import { takeOver } from '../helpers/crashed-run.js';
import { openTestDb, type TestDb } from '../helpers/db.js';

let calls: number[] = [];
const double = doubleTool((n) => calls.push(n));
/** Deterministic: think "first", double(1), think "second<variant>", double(2), answer "sum 6". */
const steps = stepsAgent;

const think = (text: string) => ({ type: 'agent_thinking', text });
const exec = (id: string, n: number) => ({ type: 'tool_executing', toolCallId: id, tool: 'double', args: { n } });
const done = (id: string, n: number) => ({ type: 'tool_completed', toolCallId: id, tool: 'double', ok: true, result: { doubled: n * 2 }, durationMs: 1 });

/** An event in short: its type and what tells it apart (`think:first`, `exec:c1`, `done:c1!` for a failed completion). */
const short = (e: RunEvent): string =>
  e.type === 'agent_thinking'
    ? `think:${e.text}`
    : e.type === 'tool_executing'
      ? `exec:${e.args && (e.args as { n?: number }).n}`
      : e.type === 'tool_completed'
        ? `done:${e.toolCallId === undefined ? '?' : 'call'}${e.ok ? '' : '!'}`
        : e.type;

interface Case {
  name: string;
  /** What the crashed attempt stored after agent_started. */
  stored: Array<Record<string, unknown>>;
  variant?: string;
  /** The tool's calls by this attempt (their n). */
  calls: number[];
  /** What this attempt stored, in short. */
  appended: string[];
}

const cases: Case[] = [
  { name: 'nothing but agent_started: everything is live', stored: [], calls: [1, 2], appended: ['think:first', 'exec:1', 'done:call', 'think:second', 'exec:2', 'done:call', 'agent_completed'] },
  { name: 'a repeated thought is not stored again', stored: [think('first')], calls: [1, 2], appended: ['exec:1', 'done:call', 'think:second', 'exec:2', 'done:call', 'agent_completed'] },
  { name: 'a call left open is made again under its id, its completion stored once', stored: [think('first'), exec('c1', 1)], calls: [1, 2], appended: ['done:call', 'think:second', 'exec:2', 'done:call', 'agent_completed'] },
  { name: 'a stored result is reused: the tool is not called', stored: [think('first'), exec('c1', 1), done('c1', 1)], calls: [2], appended: ['think:second', 'exec:2', 'done:call', 'agent_completed'] },
  { name: 'every step stored: only the terminal event is new', stored: [think('first'), exec('c1', 1), done('c1', 1), think('second'), exec('c2', 2), done('c2', 2)], calls: [], appended: ['agent_completed'] },
  {
    name: 'a thought that differs: live from there, the stored steps kept',
    stored: [think('first'), exec('c1', 1), done('c1', 1), think('second, once')],
    calls: [2],
    appended: ['think:second', 'exec:2', 'done:call', 'agent_completed'],
  },
  {
    name: 'diverging with a call open: the open call runs again under its own id first',
    stored: [think('first'), exec('c1', 1), done('c1', 1), think('second'), exec('c2', 99)],
    variant: ' (changed)',
    calls: [99, 2],
    appended: ['done:call', 'think:second (changed)', 'exec:2', 'done:call', 'agent_completed'],
  },
  {
    name: 'a stored call with other arguments is not reused: the open call runs again under its own id, then the call as asked',
    stored: [think('first'), exec('c1', 5)],
    calls: [5, 1, 2],
    appended: ['done:call', 'exec:1', 'done:call', 'think:second', 'exec:2', 'done:call', 'agent_completed'],
  },
  {
    name: 'text stored repaired (NUL → U+FFFD) matches the same step',
    stored: [think('first'), exec('c1', 1), done('c1', 1), think('second\uFFFD'), exec('c2', 2)],
    variant: '\u0000',
    calls: [2],
    appended: ['done:call', 'agent_completed'],
  },
];

describe('takeover replay over stored histories', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb('pglite');
    await migrate(t.db);
  });
  afterAll(async () => {
    await t?.dispose();
  });
  beforeEach(() => {
    calls = [];
  });

  it.each(cases)('$name', async (c) => {
    const agents = new AgentRegistry().addAgent(steps(c.variant ?? '')).addTool(double as Tool);
    const { stored, outcome, published, all } = await takeOver(t.db, { agent: 'steps', text: 'go', events: c.stored, agents });

    expect(outcome).toBe('completed');
    expect(calls).toEqual(c.calls);
    expect(published.map(short)).toEqual(c.appended);
    // The stored history is kept as it was, and this attempt's events follow it with no gap.
    expect(all.slice(0, stored.length)).toEqual(stored);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(published.map((e) => e.seq)).toEqual(c.appended.map((_, i) => stored.length + 1 + i));
    // Every call is closed exactly once, and the answer is the agent's.
    const opened = all.filter((e) => e.type === 'tool_executing').map((e) => (e as { toolCallId: string }).toolCallId);
    const closed = all.filter((e) => e.type === 'tool_completed').map((e) => (e as { toolCallId: string }).toolCallId);
    expect([...closed].sort()).toEqual([...opened].sort());
    expect(all.at(-1)).toMatchObject({ type: 'agent_completed', text: 'sum 6' });
  });
});
