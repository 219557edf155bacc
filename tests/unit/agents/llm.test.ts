// The LLM agent's pure parts: output coalescing, the history budget, tool schemas, and its settings.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { analyst, analystTools } from '../../../src/agents/analyst/index.js';
import { buildRegistry } from '../../../src/agents/registry.js';
import { envIssue } from '../../../src/config/env.js';
import { OptionsError } from '../../../src/config/options.js';
import { createLogger } from '../../../src/log/logger.js';
import { estimateTokens, fitHistory, OutputCoalescer, toolSpec } from '../../../src/agents/llm/index.js';
import { loadConfig } from '../../../src/config/index.js';

describe('OutputCoalescer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const recorder = () => {
    const written: Array<[string, string]> = [];
    return { written, write: async (kind: string, text: string) => void written.push([kind, text]) };
  };

  it('joins tokens into one piece per delay, and writes nothing per token', async () => {
    vi.useFakeTimers();
    const r = recorder();
    const c = new OutputCoalescer(r.write, { maxDelayMs: 50, maxChars: 1000 });
    for (let i = 0; i < 100; i++) c.push('output', 'x');
    expect(r.written).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    expect(r.written).toEqual([['output', 'x'.repeat(100)]]);
    c.push('output', 'y');
    await c.flush();
    expect(r.written.at(-1)).toEqual(['output', 'y']);
  });

  it('writes as soon as a piece reaches maxChars', async () => {
    const r = recorder();
    const c = new OutputCoalescer(r.write, { maxDelayMs: 60_000, maxChars: 10 });
    c.push('output', 'abcdefghij');
    c.push('output', 'k');
    await c.flush();
    expect(r.written).toEqual([
      ['output', 'abcdefghij'],
      ['output', 'k'],
    ]);
  });

  it('keeps the order of kinds: reasoning, then answer', async () => {
    const r = recorder();
    const c = new OutputCoalescer(r.write, { maxDelayMs: 60_000, maxChars: 1000 });
    c.push('thinking', 'hmm ');
    c.push('thinking', 'yes');
    c.push('output', 'The ');
    c.push('output', 'answer');
    await c.flush();
    expect(r.written).toEqual([
      ['thinking', 'hmm yes'],
      ['output', 'The answer'],
    ]);
  });

  it('a failed write surfaces at the next flush, and nothing is written after it; discard drops the buffer', async () => {
    let writes = 0;
    const c = new OutputCoalescer(async () => {
      writes++;
      throw new Error('stale attempt');
    }, { maxDelayMs: 60_000, maxChars: 1 });
    c.push('output', 'a');
    await expect(c.flush()).rejects.toThrow('stale attempt');
    c.push('output', 'b');
    await expect(c.flush()).rejects.toThrow('stale attempt');
    expect(writes).toBe(1);
    const r = recorder();
    const d = new OutputCoalescer(r.write, { maxDelayMs: 60_000, maxChars: 1000 });
    d.push('output', 'never stored');
    await d.discard();
    await d.flush();
    expect(r.written).toEqual([]);
  });
});

describe('fitHistory', () => {
  const m = (role: 'user' | 'assistant', n: number) => ({ role, content: 'x'.repeat(n) });

  it('keeps the newest messages within the budget, oldest first, never opening with an answer', () => {
    const history = [m('user', 400), m('assistant', 400), m('user', 40), m('assistant', 40)];
    expect(fitHistory(history, 10_000)).toEqual(history);
    expect(fitHistory(history, 2 * estimateTokens('x'.repeat(40)))).toEqual(history.slice(2));
    // Room for the last answer and half of the pair before: the dangling answer is dropped too.
    expect(fitHistory(history, 3 * estimateTokens('x'.repeat(40)))).toEqual(history.slice(2));
    expect(fitHistory(history, 0)).toEqual([]);
  });
});

describe('toolSpec', () => {
  it('turns each analyst tool’s zod input into the JSON schema the model sees', () => {
    for (const tool of analystTools) {
      const spec = toolSpec(tool);
      expect(spec.function.name).toBe(tool.name);
      expect(spec.function.parameters).toMatchObject({ type: 'object' });
      expect(spec.function.parameters).not.toHaveProperty('$schema');
    }
    const pricing = toolSpec(analystTools.find((t) => t.name === 'pricing_lookup')!);
    // Defaults make a field optional for the model.
    expect((pricing.function.parameters as { required?: string[] }).required ?? []).not.toContain('inputShare');
  });
});

describe('LLM settings', () => {
  // What `npm start` registers from the environment: the analyst, and the LLM agent when a model is set.
  const registered = (env: Record<string, string>) => {
    const c = loadConfig(env);
    return { c, ...buildRegistry({ ...analyst(), defaultAgent: c.defaultAgent, llm: c.llm, log: createLogger('silent') }) };
  };
  const envMessage = (err: unknown) => (err instanceof OptionsError ? err.issues.map(envIssue).map((i) => `${i.path}: ${i.message}`).join('\n') : String(err));

  it('no model configured: no LLM agent, the analyst is the default', () => {
    const { c, registry, defaultAgent } = registered({});
    expect(c.llm).toBeUndefined();
    expect(registry.agentNames()).toEqual(['analyst']);
    expect(defaultAgent).toBe('analyst');
  });

  it('a base URL and a model: the LLM agent is registered and becomes the default unless DEFAULT_AGENT says otherwise', () => {
    const { c, registry, defaultAgent } = registered({ LLM_BASE_URL: 'http://127.0.0.1:11434/v1', LLM_MODEL: 'llama3.2' });
    expect(c.llm).toMatchObject({ baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2', name: 'assistant' });
    expect(c.llm?.apiKey).toBeUndefined();
    expect(registry.agentNames()).toEqual(['analyst', 'assistant']);
    // The LLM agent is given every registered tool (the analyst's).
    expect(registry.agent('assistant')?.tools).toEqual(analystTools.map((t) => t.name));
    expect(defaultAgent).toBe('assistant');
    expect(registered({ LLM_BASE_URL: 'http://x/v1', LLM_MODEL: 'm', DEFAULT_AGENT: 'analyst' }).defaultAgent).toBe('analyst');
  });

  it('a base URL without a model is refused at start, and Anthropic without a key, and an LLM agent named like the analyst', () => {
    expect(() => loadConfig({ LLM_BASE_URL: 'http://127.0.0.1:11434/v1' })).toThrow(/LLM_MODEL/);
    let err: unknown;
    try {
      registered({ LLM_BASE_URL: 'http://x/v1', LLM_MODEL: 'm', LLM_AGENT_NAME: 'analyst' });
    } catch (e) {
      err = e;
    }
    expect(envMessage(err)).toBe('LLM_AGENT_NAME: an agent named "analyst" is registered already (agents[0]): the LLM agent needs a name of its own');
    expect(() => loadConfig({ LLM_PROVIDER: 'anthropic', LLM_BASE_URL: 'https://api.anthropic.com', LLM_MODEL: 'claude-haiku-4-5' })).toThrow(/LLM_API_KEY/);
    expect(loadConfig({ LLM_PROVIDER: 'anthropic', LLM_BASE_URL: 'https://api.anthropic.com', LLM_MODEL: 'claude-haiku-4-5', LLM_API_KEY: 'k' }).llm?.provider).toBe('anthropic');
  });
});
