// Compile-time checks of the public API (npm run typecheck fails if one breaks): a tool's input is
// typed from its zod schema, its context from what `toolContext` gives, an unknown option is an
// error, and tools that need a context make `toolContext` required.
import { z } from 'zod';
import { createServer, defineAgent, defineTool, type ToolContext } from '../../../src/index.js';

interface Notes { find(q: string): string[] }
const search = defineTool({
  name: 'search', description: 'd', input: z.object({ q: z.string() }),
  async execute(input, ctx: ToolContext & { notes: Notes }) { return ctx.notes.find(input.q); },
});
const plain = defineTool({ name: 'p', description: 'd', input: z.object({ n: z.number() }), execute: (i) => i.n * 2 });
const agent = defineAgent({ name: 'a', description: 'd', async run(ctx) { const r = await ctx.callTool<string[]>('search', { q: 'x' }); return { text: r.join() }; } });
const notes: Notes = { find: () => [] };
void createServer({ agents: [agent], tools: [search, plain], toolContext: () => ({ notes }) });
// @ts-expect-error toolContext returns the wrong shape
void createServer({ agents: [agent], tools: [search], toolContext: () => ({ nope: 1 }) });
void createServer({ agents: [agent], tools: [plain], port: 0, limits: { maxFrameBytes: 2048 } });
// @ts-expect-error unknown option
void createServer({ agents: [agent], prot: 1 });
// @ts-expect-error search needs notes: toolContext is required
void createServer({ agents: [agent], tools: [search] });
