// agentwire/testing: an agent run on the real embedded runtime (PGlite in memory, the worker, the
// recorder and its run statechart), its events as a client gets them, and the statechart's
// verdict. A deliberately broken agent is caught: its run ends with `agent_error
// grammar_violation`, the verdict names the refused event and why, a log line names the agent and
// the event, and the server goes on serving. One harness serves a fast-check property's runs.
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, defineTool, type ToolContext } from '../../src/index.js';
import { createLogger } from '../../src/log/logger.js';
import { assertGrammar, createHarness, type Harness } from '../../src/testing/index.js';
import { until } from '../helpers/wait.js';

const shelf = new Map([
  ['dune', 'Frank Herbert, 1965'],
  ['emma', 'Jane Austen, 1815'],
]);
const lookup = defineTool({
  name: 'lookup_book',
  description: 'Finds a book on the shelf by title.',
  input: z.object({ title: z.string().min(1) }),
  async execute({ title }, ctx: ToolContext & { shelf: Map<string, string> }) {
    return { title, found: ctx.shelf.get(title.toLowerCase()) ?? null, asker: ctx.userId };
  },
});

const librarian = defineAgent({
  name: 'librarian',
  description: 'Looks a title up and says what it found.',
  tools: ['lookup_book'],
  async run(ctx) {
    await ctx.think(`Looking up ${ctx.input.text}`);
    const r = await ctx.callTool<{ found: string | null }>('lookup_book', { title: ctx.input.text });
    const text = r.found ? `${ctx.input.text}: ${r.found}.` : `${ctx.input.text} is not on the shelf.`;
    for (const piece of text.match(/.{1,8}/gsu) ?? []) await ctx.output(piece);
    return { text };
  },
});

// Streams one answer and returns another: the grammar says the answer is the concatenation.
const fibber = defineAgent({
  name: 'fibber',
  description: 'Broken on purpose: its answer is not what it streamed.',
  async run(ctx) {
    await ctx.output('The answer is 41.');
    return { text: 'The answer is 42.' };
  },
});

// Calls its context after it returned: one call awaited (and caught), one left floating.
let openLateGate!: () => void;
const lateGate = new Promise<void>((resolve) => (openLateGate = resolve));
let lateOutcome!: Promise<unknown>;
const straggler = defineAgent({
  name: 'straggler',
  description: 'Broken on purpose: it streams after its run ended.',
  async run(ctx) {
    lateOutcome = lateGate.then(() => {
      // Not awaited, not caught: must not become an unhandled rejection (vitest would fail the file).
      void ctx.think('and one more thing');
      return ctx.output('late').then(
        () => 'stored',
        (err: unknown) => err,
      );
    });
    return { text: 'done' };
  },
});

describe('agentwire/testing', () => {
  let h: Harness;
  const logLines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(piece: Buffer, _enc, done) {
        logLines.push(...piece.toString().split('\n').filter(Boolean));
        done();
      },
    });
    h = await createHarness({
      agents: [librarian, fibber, straggler],
      tools: [lookup],
      toolContext: () => ({ shelf }),
      logger: createLogger('warn', sink),
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('runs an agent with its tool on the embedded runtime: the events a client gets, and a verdict that holds', async () => {
    const run = await h.run({ agent: 'librarian', text: 'Dune' });
    // "Dune: Frank Herbert, 1965." streamed in pieces of 8 characters: 4 of them.
    expect(run.events.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', ...Array(4).fill('agent_output'), 'agent_completed']);
    expect(run.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(run.events[3]).toMatchObject({ tool: 'lookup_book', ok: true, result: { found: 'Frank Herbert, 1965' } });
    expect(run.text).toBe('Dune: Frank Herbert, 1965.');
    expect(run.verdict).toEqual({ ok: true, state: 'completed' });
    assertGrammar(run);
  });

  it('catches an agent whose answer differs from what it streamed: agent_error grammar_violation, the refused event named, a log line, and the server still serves', async () => {
    const run = await h.run({ agent: 'fibber', text: 'what is the answer?' });
    expect(run.events.map((e) => e.type)).toEqual(['agent_started', 'agent_output', 'agent_error']);
    expect(run.terminal).toMatchObject({
      type: 'agent_error',
      code: 'grammar_violation',
      retryable: false,
      message: 'agent_completed refused: its text differs from the agent_output pieces streamed before it (the answer must be their concatenation)',
    });
    expect(run.verdict.ok).toBe(false);
    if (run.verdict.ok) return;
    expect(run.verdict.refused).toEqual([{ runId: run.runId, agent: 'fibber', event: 'agent_completed', reason: expect.stringContaining('differs from the agent_output') }]);
    expect(() => assertGrammar(run)).toThrow(/agent fibber produced agent_completed, refused: its text differs/);
    const line = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.runId === run.runId);
    expect(line).toMatchObject({ level: 'error', agent: 'fibber', event: 'agent_completed', msg: expect.stringMatching(/^agent fibber: run statechart refused agent_completed: its text differs/) });
    // The server goes on: the next run completes.
    expect((await h.run({ agent: 'librarian', text: 'Emma' })).verdict).toEqual({ ok: true, state: 'completed' });
  });

  it('catches an agent that streams after its end: refused and logged, the run stays completed, nothing crashes', async () => {
    const run = await h.run({ agent: 'straggler', text: 'go' });
    expect(run.verdict).toEqual({ ok: true, state: 'completed' });
    openLateGate();
    const err = await lateOutcome;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('agent_output refused: the run has already ended (completed)');
    const refused = await until(() => (h.refusals.filter((r) => r.runId === run.runId).length === 2 ? h.refusals.filter((r) => r.runId === run.runId) : undefined), 'both late calls refused');
    expect(refused.map((r) => [r.agent, r.event])).toEqual([
      ['straggler', 'agent_thinking'],
      ['straggler', 'agent_output'],
    ]);
    // Nothing was stored after the end.
    const again = await h.run({ agent: 'librarian', text: 'Dune' });
    expect(again.verdict.ok).toBe(true);
  });

  it('serves a fast-check property: for any title, the librarian keeps the grammar and answers about that title', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim().length > 0), async (title) => {
        const run = await h.run({ agent: 'librarian', text: title });
        assertGrammar(run);
        expect(run.text?.startsWith(title.trim())).toBe(true);
      }),
      { numRuns: 15 },
    );
  });
});
