// Deterministic agents for tests. They run inside the real runtime (real statechart, log and
// sockets); only what the agent decides to do is scripted.
import { z } from 'zod';
import type { Agent, Tool } from '../../src/agents/types.js';

/** Thinks, calls a real tool, streams two output pieces and completes: every event kind, no waiting. */
export const scriptedAgent: Agent = {
  name: 'scripted',
  description: 'Test agent: a fixed sequence of every event kind.',
  async run(ctx) {
    await ctx.think(`looking at: ${ctx.input.text}`);
    await ctx.callTool('pricing_lookup', { models: ['gpt-4o'] });
    await ctx.output('The answer ');
    await ctx.output('is 42.');
    return { text: 'The answer is 42.' };
  },
};

/**
 * An agent that waits until the test opens its gate (keyed by the input text) or the run is
 * aborted. Lets a test hold a run active without sleeping.
 */
export class Gates {
  private readonly open = new Map<string, () => void>();
  private readonly waiting = new Map<string, Promise<void>>();
  private readonly started = new Map<string, { promise: Promise<void>; resolve: () => void }>();

  private startedEntry(key: string) {
    let e = this.started.get(key);
    if (!e) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      e = { promise, resolve };
      this.started.set(key, e);
    }
    return e;
  }

  /** Resolves once a run with this input is waiting at its gate. */
  reached(key: string): Promise<void> {
    return this.startedEntry(key).promise;
  }

  release(key: string): void {
    this.open.get(key)?.();
  }

  wait(key: string, signal: AbortSignal): Promise<void> {
    let p = this.waiting.get(key);
    if (!p) {
      p = new Promise<void>((resolve) => this.open.set(key, resolve));
      this.waiting.set(key, p);
    }
    this.startedEntry(key).resolve();
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      void p.then(resolve);
    });
  }

  agent(): Agent {
    return {
      name: 'gated',
      description: 'Test agent: waits at a gate the test opens.',
      run: async (ctx) => {
        await ctx.think('waiting at the gate');
        await this.wait(ctx.input.text, ctx.signal);
        await ctx.think('through the gate');
        return { text: `done: ${ctx.input.text}` };
      },
    };
  }
}

/**
 * Streams `pieces` output pieces (`piece(i)`), optionally `everyMs` apart, and answers with their
 * concatenation, as the grammar requires.
 */
function streamingAgent(name: string, description: string, pieces: number, piece: (i: number) => string, everyMs = 0): Agent {
  return {
    name,
    description,
    async run(ctx) {
      let text = '';
      for (let i = 0; i < pieces; i++) {
        if (everyMs > 0) await new Promise((r) => setTimeout(r, everyMs));
        await ctx.output(piece(i));
        text += piece(i);
      }
      return { text };
    },
  };
}

/** Streams `pieces` output pieces of `size` characters each: enough to fill a socket's buffer. */
export const floodAgent = (pieces: number, size: number): Agent =>
  streamingAgent('flood', 'Test agent: streams many large output pieces.', pieces, (i) => `${String(i).padStart(6, '0')}${'x'.repeat(size - 6)}`);

/** Answers with the thread history it was given, as `data`. */
export const historyAgent: Agent = {
  name: 'history',
  description: 'Test agent: returns the history it received.',
  async run(ctx) {
    await ctx.think(`history of ${ctx.history.length} messages`);
    return { text: `answer to ${ctx.input.text}`, data: ctx.history };
  },
};

/** A tool that never answers and ignores its AbortSignal: only the runtime's time limit ends it. */
export const hangingTool: Tool = {
  name: 'hang',
  description: 'Test tool: never returns.',
  input: z.strictObject({}),
  execute: () => new Promise(() => undefined),
};

/** Calls the hanging tool. */
export const hangingAgent: Agent = {
  name: 'hanging',
  description: 'Test agent: calls a tool that never answers.',
  async run(ctx) {
    await ctx.think('calling a tool that hangs');
    await ctx.callTool('hang', {});
    return { text: 'unreachable' };
  },
};

/** Calls two tools at once: the recorder must store their events one at a time, gapless. */
export const parallelAgent: Agent = {
  name: 'parallel',
  description: 'Test agent: two tool calls in parallel.',
  async run(ctx) {
    await ctx.think('asking two things at once');
    const results = await Promise.all([
      ctx.callTool('pricing_lookup', { models: ['gpt-4o'] }),
      ctx.callTool('pricing_lookup', { models: ['gpt-4.1'] }),
    ]);
    return { text: `looked up ${results.length} models` };
  },
};

/** Streams `pieces` short output pieces `everyMs` apart: a run long enough to be cut in the middle. */
export const pacedAgent = (pieces: number, everyMs: number): Agent =>
  streamingAgent('paced', 'Test agent: streams small pieces at a steady pace.', pieces, (i) => `${i} `, everyMs);

/** `double(n)`, telling `onCall` of each execution (a takeover test counts what was made again). */
export const doubleTool = (onCall: (n: number) => void): Tool<{ n: number }, { doubled: number }> => ({
  name: 'double',
  description: 'doubles n; tells the test of each call',
  input: z.strictObject({ n: z.number() }),
  async execute({ n }) {
    onCall(n);
    return { doubled: n * 2 };
  },
});

/** The takeover suites' deterministic agent: think, double(1), think, double(2), answer "sum 6". `variant` changes its second thought. */
export const stepsAgent = (variant = ''): Agent => ({
  name: 'steps',
  description: 'test',
  async run(ctx) {
    await ctx.think('first');
    const a = await ctx.callTool<{ doubled: number }>('double', { n: 1 });
    await ctx.think(`second${variant}`);
    const b = await ctx.callTool<{ doubled: number }>('double', { n: 2 });
    return { text: `sum ${a.doubled + b.doubled}` };
  },
});
