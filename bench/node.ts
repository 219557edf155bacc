// One agentwire process for benchmarks: the production entry point plus the bench agent, which
// emits the five golden-path events with no thinking time.
import { z } from 'zod';
import type { Agent, Tool } from '../src/agents/types.js';
import { runServer } from '../src/cli.js';

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

void runServer({ agents: [bench], tools: [echo as Tool] });
