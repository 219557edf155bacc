// One agentwire process for benchmarks: the production entry point plus three bench agents.
// - `bench`: the five golden-path events with no thinking time;
// - `bench_stream`: input `stream N` streams N `agent_output` pieces, then completes;
// - `bench_paced`: input `paced STEPS MS` records one `agent_thinking` every MS ms, STEPS times
//   (runs that stay in progress long enough to be dropped and resumed).
// Answers `{gc: true}` over IPC with its memory after a full GC (see lib/proc.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Agent, Tool } from '../src/agents/types.js';
import { runServer } from '../src/cli.js';
import { answerGcRequests } from './lib/proc.js';

const echo: Tool<{ n: number }, { n: number }> = {
  name: 'bench_echo',
  description: 'Returns its input.',
  input: z.strictObject({ n: z.number() }),
  execute: async (input) => input,
};

const bench: Agent = {
  name: 'bench',
  description: 'Benchmark agent: the five golden-path events, no thinking time.',
  async run(ctx) {
    await ctx.think('benchmark');
    await ctx.callTool('bench_echo', { n: 1 });
    return { text: 'done' };
  },
};

const stream: Agent = {
  name: 'bench_stream',
  description: 'Benchmark agent: streams N answer pieces with no time between them.',
  async run(ctx) {
    const n = Number(/^stream (\d+)$/.exec(ctx.input.text)?.[1] ?? 100);
    let text = '';
    for (let i = 0; i < n; i++) {
      const piece = `piece ${i} `;
      text += piece;
      await ctx.output(piece);
    }
    return { text };
  },
};

const paced: Agent = {
  name: 'bench_paced',
  description: 'Benchmark agent: one thinking step every MS ms, STEPS times.',
  async run(ctx) {
    const [, steps = '20', ms = '500'] = /^paced (\d+) (\d+)$/.exec(ctx.input.text) ?? [];
    for (let i = 0; i < Number(steps); i++) {
      await ctx.think(`step ${i}`);
      await sleep(Number(ms), undefined, { signal: ctx.signal });
    }
    return { text: 'done' };
  },
};

answerGcRequests();
void runServer({ agents: [bench, stream, paced], tools: [echo as Tool] });
