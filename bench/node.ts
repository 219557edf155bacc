// One agentwire process for benchmarks: the production entry point plus three bench agents.
// - `bench`: the five golden-path events with no thinking time;
// - `bench_stream`: input `stream N` streams N answer pieces (coalesced), then completes;
// - `bench_paced`: input `paced STEPS MS` records one `agent_thinking` every MS ms, STEPS times
//   (runs that stay in progress long enough to be dropped and resumed);
// - `bench_model`: input `model PIECES MS` streams like a model, one answer piece every MS ms,
//   coalesced as the LLM agent does (LLM_OUTPUT_FLUSH_MS / _CHARS); each piece says when it was made.
// Answers `{gc: true}` over IPC with its memory after a full GC (see lib/proc.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { OutputCoalescer } from '../src/agents/llm/coalesce.js';
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

// Pieces go through the coalescer the LLM agent uses (LLM_OUTPUT_FLUSH_MS / _CHARS defaults): what
// is stored and sent is one `agent_output` per 400 characters or 50 ms, not one per piece.
const stream: Agent = {
  name: 'bench_stream',
  description: 'Benchmark agent: streams N answer pieces with no time between them, coalesced as the LLM agent does.',
  async run(ctx) {
    const n = Number(/^stream (\d+)$/.exec(ctx.input.text)?.[1] ?? 100);
    const coalescer = new OutputCoalescer((_kind, piece) => ctx.output(piece), { maxDelayMs: 50, maxChars: 400 });
    let text = '';
    for (let i = 0; i < n; i++) {
      const piece = `piece ${i} `;
      text += piece;
      coalescer.push('output', piece);
    }
    await coalescer.flush();
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

// The LLM agent's coalescing settings and defaults (src/config/options.ts), read as it reads them.
const flush = { maxDelayMs: Number(process.env.LLM_OUTPUT_FLUSH_MS ?? 50), maxChars: Number(process.env.LLM_OUTPUT_FLUSH_CHARS ?? 400) };

// The pace of every bench_model run: one shared timer per period, not one timer (and one abort
// listener) per run per piece. 2,000 runs at a piece every 20 ms were 100,000 timers a second on
// the server's main thread: the benchmark agent's own cost, which a model streaming over HTTP does
// not have (its pieces arrive on a socket), and not the runtime's.
const tickers = new Map<number, { waiting: Array<() => void>; timer: NodeJS.Timeout | undefined }>();
function tick(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  let t = tickers.get(ms);
  if (!t) tickers.set(ms, (t = { waiting: [], timer: undefined }));
  const ticker = t;
  ticker.timer ??= setInterval(() => {
    const due = ticker.waiting;
    ticker.waiting = [];
    for (const resolve of due) resolve();
    if (ticker.waiting.length === 0 && due.length === 0) {
      clearInterval(ticker.timer);
      ticker.timer = undefined;
    }
  }, ms);
  return new Promise((resolve) => ticker.waiting.push(resolve));
}

const model: Agent = {
  name: 'bench_model',
  description: 'Benchmark agent: one answer piece every MS ms, PIECES times, coalesced as the LLM agent does.',
  async run(ctx) {
    const [, pieces = '500', ms = '20'] = /^model (\d+) (\d+)$/.exec(ctx.input.text) ?? [];
    const coalescer = new OutputCoalescer((_kind, piece) => ctx.output(piece), flush);
    let text = '';
    const start = Date.now();
    for (let i = 0; i < Number(pieces); i++) {
      // The time the piece was made: the client measures how long the oldest piece of each stored output waited.
      const piece = `@${Date.now()} `;
      text += piece;
      coalescer.push('output', piece);
      // Piece i+1 is due at start + (i+1) × ms, as a model's tokens are: a late tick is not added
      // to every later piece, so a stream of N pieces lasts N × ms.
      while (Date.now() < start + (i + 1) * Number(ms)) await tick(Number(ms), ctx.signal);
    }
    await coalescer.flush();
    return { text };
  },
};

answerGcRequests();
void runServer({ agents: [bench, stream, paced, model], tools: [echo as Tool] });
