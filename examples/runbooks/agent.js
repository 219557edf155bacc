// @ts-check
// A custom agent with a custom tool: `search_runbooks` reads local files through the tool context
// the server gives it (`toolContext`), and `oncall` asks it, then streams an answer made from what
// it found. No model: the same question always gets the same answer.
import { defineAgent, defineTool } from 'agentwire';
import { z } from 'zod';

export const searchRunbooks = defineTool({
  name: 'search_runbooks',
  description: 'Finds the runbooks that match an on-call question, best first, with their steps.',
  input: z.object({ query: z.string().min(1).max(500), limit: z.number().int().min(1).max(5).default(2) }),
  /** @param {{ query: string, limit: number }} input @param {import('agentwire').ToolContext & { runbooks: import('./runbooks.js').RunbookStore }} ctx */
  async execute({ query, limit }, ctx) {
    ctx.log.info({ query }, 'searching runbooks');
    return ctx.runbooks.search(query, limit);
  },
});

export const oncall = defineAgent({
  name: 'oncall',
  description: 'Finds the runbooks for an incident and lists their steps (deterministic, not an LLM).',
  tools: ['search_runbooks'],
  async run(ctx) {
    await ctx.think(`Searching the runbooks for: ${ctx.input.text}`);
    /** @type {Array<{ file: string, title: string, steps: string[] }>} */
    const found = await ctx.callTool('search_runbooks', { query: ctx.input.text });
    if (found.length === 0) {
      const text = 'No runbook matches that. Try the symptom in other words (e.g. "database down", "slow answers").';
      await ctx.output(text);
      return { text };
    }
    await ctx.think(`${found.length} runbook${found.length === 1 ? '' : 's'} match: ${found.map((r) => r.file).join(', ')}`);
    let text = '';
    for (const r of found) {
      const piece = `**${r.title}** (${r.file})\n${r.steps.join('\n')}\n\n`;
      await ctx.output(piece);
      text += piece;
    }
    return { text, data: { runbooks: found.map((r) => r.file) } };
  },
});
