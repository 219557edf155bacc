// The LLM agent end to end: a real runtime and real sockets, the model played by a local HTTP
// server that speaks the provider's real streaming format. Covers the golden path with a tool
// call, a sub-agent, thread history, 429, 500, 401 (before and inside the stream), a stream cut
// in the middle, a damaged chunk after a finished answer, a call to a tool the agent does not
// have, a slow stream delivered while it is still going, cancellation mid-stream, and the stored
// rows per token.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayRun, type RunMachineEvent } from '../../machines/run.machine.js';
import { z } from 'zod';
import { CONTINUE, createClient, createLlmAgent, openAiStream } from '../../src/agents/llm/index.js';
import type { Tool } from '../../src/agents/types.js';
import { createLogger } from '../../src/log/logger.js';
import type { RunEvent } from '../../src/protocol/events.js';
import { primaryBackend } from '../helpers/backends.js';
import { answer, callTool, chunk, DAMAGED_DONE, FakeProvider } from '../helpers/llm-provider.js';
import { startServer, type TestServer } from '../helpers/server.js';
import type { TestClient } from '../helpers/client.js';

/** Hangs until aborted, with a time limit of its own far below TOOL_TIMEOUT_MS. */
const slowTool: Tool = {
  name: 'slow_lookup',
  description: 'Test tool: answers only when it is too late.',
  input: z.strictObject({}),
  timeoutMs: 100,
  execute: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })),
};

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i} `);

/** The run statechart accepts the whole sequence and ends it in `completed` (or the given state). */
function grammarHolds(events: RunEvent[]): string | undefined {
  const snap = replayRun(events.map((e) => ({ ...e }) as unknown as RunMachineEvent));
  return snap?.status === 'done' ? String(snap.value) : undefined;
}

describe(`LLM agent on ${primaryBackend}`, () => {
  let server: TestServer;
  const provider = new FakeProvider();
  let c: TestClient;
  let token: string;
  /** Every line the server logged, at debug level and up. */
  const logLines: string[] = [];

  beforeAll(async () => {
    await provider.start();
    // A second LLM agent, registered by an embedder, with a tool of its own.
    const tooly = createLlmAgent({
      name: 'tooly',
      description: 'test',
      stream: openAiStream(createClient({ baseURL: provider.url, apiKey: undefined, maxRetries: 0, timeoutMs: 5_000 })),
      model: 'local-model',
      tools: [slowTool],
      subAgents: [],
      maxSteps: 3,
      historyTokens: 0,
      streamRetries: 0,
      streamIdleMs: 5_000,
      coalesce: { maxDelayMs: 50, maxChars: 400 },
    });
    const sink = new Writable({
      write(piece: Buffer, _enc, done) {
        logLines.push(...piece.toString().split('\n').filter(Boolean));
        done();
      },
    });
    server = await startServer(primaryBackend, {
      agents: [tooly],
      tools: [slowTool],
      log: createLogger('debug', sink),
      // The configured LLM agent keeps to the analyst: tooly's tool and tooly itself are not its.
      options: { llm: { tools: ['usage_summary', 'pricing_lookup', 'cost_projection'], agents: ['analyst'] } as never },
      env: {
        LLM_BASE_URL: provider.url,
        LLM_API_KEY: 'sk-test-key',
        LLM_MODEL: 'gpt-4o-mini',
        LLM_MAX_RETRIES: '2',
        LLM_OUTPUT_FLUSH_MS: '50',
        LLM_OUTPUT_FLUSH_CHARS: '400',
      },
    });
    const u = await server.register();
    token = u.token;
    c = await server.connect(u.token);
    await c.waitType('session_ready');
  });
  afterAll(async () => {
    await server?.stop();
    await provider.stop();
  });

  async function ask(text: string, extra: Record<string, unknown> = {}) {
    const acc = await c.request(text, extra);
    expect(acc.type).toBe('run_accepted');
    return { runId: acc.runId as string, threadId: acc.threadId as string };
  }

  async function storedTypes(runId: string): Promise<string[]> {
    const rows = await server.runtime.database.query<{ type: string }>(`SELECT type FROM run_events WHERE run_id = $1 ORDER BY seq`, [runId]);
    return rows.map((r) => r.type);
  }

  it('golden path: thinks, calls a tool, streams the answer, completes with usage and cost', async () => {
    const first = provider.requests.length;
    provider.enqueue(
      { chunks: [chunk.role(), chunk.reasoning('The user asks about spend; '), chunk.reasoning('read the usage first.'), ...callTool('call_1', 'usage_summary', {}, [900, 12]).slice(1)] },
      { chunks: answer(words(60), [1500, 60]) },
    );
    const { runId } = await ask('Where does my AI money go?');
    const events = await c.runEvents(runId);
    const t0 = Date.parse(events[0]!.ts);
    console.log('golden path (ms after agent_started):\n' + events.map((e) => `  ${String(Date.parse(e.ts) - t0).padStart(5)}  ${e.seq} ${e.type}${e.type === 'agent_output' ? ` (${e.text.length} chars)` : ''}`).join('\n'));

    expect(events[0]).toMatchObject({ type: 'agent_started', agent: 'assistant' });
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed']);
    expect(events[1]).toMatchObject({ text: 'The user asks about spend; read the usage first.' });
    expect(events[2]).toMatchObject({ tool: 'usage_summary', args: {} });
    expect(events[3]).toMatchObject({ tool: 'usage_summary', ok: true });
    const outputs = events.filter((e) => e.type === 'agent_output');
    const done = events.at(-1)!;
    expect(done.type).toBe('agent_completed');
    if (done.type !== 'agent_completed') return;
    expect(done.text).toBe(words(60).join(''));
    expect(outputs.map((e) => e.text).join('')).toBe(done.text);
    expect(done.usage).toMatchObject({ inputTokens: 2400, outputTokens: 72 });
    expect(done.usage?.costUsd).toBeGreaterThan(0);
    expect(grammarHolds(events)).toBe('completed');

    // 60 streamed tokens, stored as a handful of rows, not 60.
    console.log(`storage: 60 tokens streamed in a burst -> ${outputs.length} agent_output rows`);
    expect(outputs.length).toBeLessThan(60);

    // What the model was sent: the key, the tools as JSON schema, then the tool's result.
    const [one, two] = provider.requests.slice(first);
    expect(one!.authorization).toBe('Bearer sk-test-key');
    expect(one!.body.stream).toBe(true);
    expect(one!.body.tools?.map((t) => t.function.name).sort()).toEqual(['ask_analyst', 'cost_projection', 'pricing_lookup', 'usage_summary']);
    const pricing = one!.body.tools?.find((t) => t.function.name === 'pricing_lookup');
    expect(pricing?.function.parameters).toMatchObject({ type: 'object', properties: { models: { type: 'array' } } });
    expect(one!.body.messages.at(-1)).toEqual({ role: 'user', content: 'Where does my AI money go?' });
    const toolMessage = two!.body.messages.at(-1)!;
    expect(toolMessage).toMatchObject({ role: 'tool', tool_call_id: 'call_1' });
    expect(JSON.parse(toolMessage.content!)).toEqual((events[3] as Extract<RunEvent, { type: 'tool_completed' }>).result);
  });

  it('sends the thread history, and invalid tool arguments go back to the model as an error', async () => {
    provider.enqueue({ chunks: answer(['First ', 'answer.']) });
    const a = await ask('first question');
    await c.runEvents(a.runId);
    provider.enqueue(
      { chunks: callTool('call_x', 'pricing_lookup', { models: 'not-a-list' }) },
      { chunks: answer(['Second.']) },
    );
    const start = provider.requests.length;
    const b = await ask('second question', { threadId: a.threadId });
    const events = await c.runEvents(b.runId);
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'Second.' });
    expect(events.find((e) => e.type === 'tool_completed')).toMatchObject({ ok: false, tool: 'pricing_lookup' });
    const sent = provider.requests[start]!.body.messages.filter((m) => m.role !== 'system');
    expect(sent.map((m) => [m.role, m.content])).toEqual([
      ['user', 'first question'],
      ['assistant', 'First answer.'],
      ['user', 'second question'],
    ]);
    const fix = provider.requests[start + 1]!.body.messages.at(-1)!;
    expect(fix.role).toBe('tool');
    expect(JSON.parse(fix.content!).error).toMatch(/invalid arguments/);
  });

  it('hands a task to the analyst as a sub-agent: its steps inside one tool call, tagged with its name', async () => {
    provider.enqueue({ chunks: callTool('call_a', 'ask_analyst', { task: 'Where does my AI money go, and how do I save?' }) }, { chunks: answer(['The analyst ', 'says: save.']) });
    const { runId } = await ask('Ask the analyst for me');
    const events = await c.runEvents(runId);
    expect(grammarHolds(events)).toBe('completed');
    const open = events.findIndex((e) => e.type === 'tool_executing' && e.tool === 'ask_analyst');
    const close = events.findIndex((e) => e.type === 'tool_completed' && e.tool === 'ask_analyst');
    expect(open).toBeGreaterThan(0);
    const inside = events.slice(open + 1, close);
    expect(inside.length).toBeGreaterThan(2);
    for (const e of inside) expect(e).toMatchObject({ agent: 'analyst' });
    expect(inside.some((e) => e.type === 'tool_executing' && e.tool === 'usage_summary')).toBe(true);
    expect(events.filter((e) => e.type === 'agent_output').every((e) => !('agent' in e))).toBe(true);
    const result = events[close] as Extract<RunEvent, { type: 'tool_completed' }>;
    expect(result.ok).toBe(true);
    expect((result.result as { text: string }).text).toMatch(/\$/);
    // The analyst's answer went back to the supervisor model as the tool's result.
    expect(provider.requests.at(-1)!.body.messages.at(-1)!.content).toBe((result.result as { text: string }).text);
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'The analyst says: save.' });
  });

  it('429 then success: retried with backoff, the client sees only the answer', async () => {
    const start = provider.requests.length;
    provider.enqueue({ status: 429, retryAfterMs: 5 }, { chunks: answer(['after ', 'a 429']) });
    const { runId } = await ask('rate limited once');
    const events = await c.runEvents(runId);
    expect(events.map((e) => e.type)).toEqual(['agent_started', 'agent_output', 'agent_completed']);
    expect(events.at(-1)).toMatchObject({ text: 'after a 429' });
    expect(provider.requests.length - start).toBe(2);
  });

  it('500 on every try: agent_error model_unavailable, retryable, after the configured retries', async () => {
    const start = provider.requests.length;
    provider.enqueue({ status: 500, retryAfterMs: 5 }, { status: 502, retryAfterMs: 5 }, { status: 503, retryAfterMs: 5 });
    const { runId } = await ask('provider down');
    const events = await c.runEvents(runId);
    expect(events.at(-1)).toMatchObject({ type: 'agent_error', code: 'model_unavailable', retryable: true });
    console.log(`500 x3: ${JSON.stringify(events.at(-1))}`);
    expect(provider.requests.length - start).toBe(3);
  });

  it('401: agent_error model_failed, not retryable, not retried, no key in the message', async () => {
    const start = provider.requests.length;
    provider.enqueue({ status: 401, body: { error: { message: 'Incorrect API key provided: sk-test-key' } } });
    const { runId } = await ask('bad key');
    const events = await c.runEvents(runId);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: 'agent_error', code: 'model_failed', retryable: false });
    expect(JSON.stringify(last)).not.toContain('sk-test');
    console.log(`401: ${JSON.stringify(last)}`);
    expect(provider.requests.length - start).toBe(1);
  });

  it('a 401 inside the stream quoting the key: fails once, not retryable, and the key is nowhere: events, HTTP events API, stored log, server logs', async () => {
    const start = provider.requests.length;
    const logsBefore = logLines.length;
    const refusal = {
      chunks: [
        chunk.role(),
        chunk.error({
          message: 'Incorrect API key provided: Bearer sk-test-key. You can find your API key at https://platform.openai.com/account/api-keys.',
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        }),
      ],
    };
    // As many as LLM_MAX_RETRIES would take, were it retried.
    provider.enqueue(refusal, refusal, refusal);
    const { runId } = await ask('bad key, said in the stream');
    const events = await c.runEvents(runId);
    provider.drop();
    const last = events.at(-1)!;
    console.log(`401 in the stream: ${JSON.stringify(last)}`);
    expect(last).toMatchObject({ type: 'agent_error', code: 'model_failed', retryable: false });
    // Not retried: one request, although LLM_MAX_RETRIES is 2.
    expect(provider.requests.length - start).toBe(1);
    // The message is agentwire's own phrase: nothing of the provider's text.
    expect(JSON.stringify(events)).not.toMatch(/sk-test|Incorrect API key/);
    const http = await fetch(`${server.url}/v1/runs/${runId}/events`, { headers: { authorization: `Bearer ${token}` } });
    expect(http.status).toBe(200);
    expect(await http.text()).not.toMatch(/sk-test|Incorrect API key/);
    const stored = await server.runtime.database.query<{ body: unknown }>(`SELECT body FROM run_events WHERE run_id = $1`, [runId]);
    expect(stored).toHaveLength(events.length);
    expect(JSON.stringify(stored)).not.toMatch(/sk-test|Incorrect API key/);
    // The provider's text is in one debug line, the key redacted; the key is in no line at all.
    const logged = logLines.slice(logsBefore);
    const said = logged.filter((l) => l.includes('Incorrect API key provided'));
    console.log(`the provider's text, logged: ${said.join('\n')}`);
    expect(said).toEqual([expect.stringContaining('"level":"debug"')]);
    expect(said[0]).toContain('Bearer [redacted]');
    expect(logLines.filter((l) => l.includes('sk-test'))).toEqual([]);
  });

  it('a damaged chunk after finish_reason (the usage chunk, or [DONE]) ends a complete answer, as a reset there does: no second call', async () => {
    const finished = [chunk.role(), chunk.text('Complete'), chunk.text(' answer.'), chunk.finish('stop')];
    const variants: Array<[string, Parameters<FakeProvider['enqueue']>[0]]> = [
      ['damaged usage chunk', { chunks: [...finished, chunk.damagedUsage()] }],
      ['damaged [DONE]', { chunks: [...finished, chunk.usage(100, 2)], end: DAMAGED_DONE }],
      ['connection reset', { chunks: [...finished, chunk.usage(100, 2)], cutAfter: finished.length }],
    ];
    for (const [what, script] of variants) {
      const start = provider.requests.length;
      // What a second call would add, if the answer were taken for a broken one.
      provider.enqueue(script, { chunks: answer([' And more.']) });
      const { runId } = await ask(`finished, then ${what}`);
      const events = await c.runEvents(runId);
      const requests = provider.requests.length - start;
      provider.drop();
      expect({ what, requests, last: events.at(-1) }).toMatchObject({ what, requests: 1, last: { type: 'agent_completed', text: 'Complete answer.' } });
    }
  });

  it('a call to a tool the agent does not have is recorded as a failed call; the model gets "no such tool" and answers', async () => {
    const start = provider.requests.length;
    provider.enqueue(
      // A name nobody registered, and one registered for another agent (tooly's), which must not run.
      { chunks: callTool('call_n', 'delete_everything', { really: true }) },
      { chunks: callTool('call_s', 'slow_lookup', {}) },
      { chunks: answer(['I cannot do that.']) },
    );
    const { runId } = await ask('delete everything');
    const events = await c.runEvents(runId);
    expect(events.map((e) => e.type)).toEqual(['agent_started', 'tool_executing', 'tool_completed', 'tool_executing', 'tool_completed', 'agent_output', 'agent_completed']);
    expect(events[1]).toMatchObject({ tool: 'delete_everything', args: { really: true } });
    expect(events[2]).toMatchObject({ tool: 'delete_everything', ok: false, error: 'no such tool' });
    expect(events[3]).toMatchObject({ tool: 'slow_lookup', args: {} });
    expect(events[4]).toMatchObject({ tool: 'slow_lookup', ok: false, error: 'no such tool' });
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'I cannot do that.' });
    expect(grammarHolds(events)).toBe('completed');
    const sent = provider.requests.slice(start).map((r) => r.body.messages.at(-1)!);
    expect(sent.slice(1).map((m) => [m.role, JSON.parse(m.content!)])).toEqual([
      ['tool', { error: 'no such tool' }],
      ['tool', { error: 'no such tool' }],
    ]);
  });

  it('a stream cut in the middle of the answer: the retry continues the text already sent', async () => {
    const start = provider.requests.length;
    provider.enqueue(
      { chunks: answer(['The answer', ' is', ' never sent']), cutAfter: 3 },
      { chunks: answer([' 42.']) },
    );
    const { runId } = await ask('cut me off');
    const events = await c.runEvents(runId);
    const done = events.at(-1)!;
    expect(done).toMatchObject({ type: 'agent_completed', text: 'The answer is 42.' });
    expect(events.filter((e) => e.type === 'agent_output').map((e) => (e as { text: string }).text).join('')).toBe('The answer is 42.');
    expect(grammarHolds(events)).toBe('completed');
    const retry = provider.requests[start + 1]!.body.messages.slice(-2);
    expect(retry).toEqual([
      { role: 'assistant', content: 'The answer is' },
      { role: 'user', content: CONTINUE },
    ]);
    console.log(`cut mid-stream: ${events.map((e) => (e.type === 'agent_output' ? `output ${JSON.stringify(e.text)}` : e.type)).join(', ')}`);
  });

  it('a slow stream is delivered while it is still going; cancelling mid-stream aborts the model call', async () => {
    const abandoned = provider.abandoned;
    provider.enqueue({ chunks: answer(words(40)), holdAfter: 20, everyMs: 5 });
    const { runId } = await ask('slow and then cancelled');
    // The client has answer text while the provider still holds the rest of the stream.
    await provider.held();
    const firstOutput = await c.waitFor((f) => f.runId === runId && f.type === 'agent_output');
    expect(words(20).join('').startsWith(firstOutput.text as string)).toBe(true);
    c.send({ type: 'cancel_run', runId });
    const events = await c.runEvents(runId);
    expect(events.at(-1)).toMatchObject({ type: 'agent_cancelled', reason: 'cancelled by user' });
    expect(grammarHolds(events)).toBe('cancelled');
    // The HTTP call to the provider was aborted, not left running.
    await expect.poll(() => provider.abandoned).toBe(abandoned + 1);
    provider.release();
    console.log(`slow stream, cancelled: ${events.map((e) => (e.type === 'agent_output' ? `output(${e.text.length})` : e.type)).join(', ')}`);
    expect(await storedTypes(runId)).toEqual(events.map((e) => e.type));
  });

  it('storage per streamed token: a paced stream of 200 tokens', async () => {
    provider.enqueue({ chunks: answer(words(200)), everyMs: 2 });
    // When each output piece reached the client, to set against when its tokens left the provider.
    const arrived = new Map<number, number>();
    c.onFrame = (f) => {
      if (f.type === 'agent_output') arrived.set(f.seq as number, Date.now());
    };
    const { runId } = await ask('paced stream');
    const events = await c.runEvents(runId);
    c.onFrame = undefined;
    const rows = (await storedTypes(runId)).filter((t) => t === 'agent_output').length;
    console.log(`storage: 200 tokens at ~2 ms each -> ${rows} agent_output rows (${(rows / 200).toFixed(3)} rows per token)`);
    // Each piece's wait: from its first token leaving the provider (chunk i + 1 is word i) to the client.
    let token = 0;
    const waits = events.flatMap((e) => {
      if (e.type !== 'agent_output') return [];
      const first = token;
      token += e.text.split(' ').length - 1;
      return [arrived.get(e.seq)! - provider.writtenAt[first + 1]!];
    });
    console.log(`delivery: oldest token in each piece waited ${waits.join(', ')} ms (flush at 50 ms)`);
    expect(rows).toBeLessThan(200);
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: words(200).join('') });
  });

  it('a tool over its own time limit: recorded as failed, the error goes back to the model, the run goes on', async () => {
    const start = provider.requests.length;
    provider.enqueue({ chunks: callTool('call_s', 'slow_lookup', {}) }, { chunks: answer(['The lookup timed out.']) });
    const { runId } = await ask('use the slow tool', { agent: 'tooly' });
    const events = await c.runEvents(runId);
    expect(events.find((e) => e.type === 'tool_completed')).toMatchObject({ tool: 'slow_lookup', ok: false, error: 'timed out after 100 ms' });
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'The lookup timed out.' });
    expect(JSON.parse(provider.requests[start + 1]!.body.messages.at(-1)!.content!)).toEqual({ error: 'timed out after 100 ms' });
  });

  it('the analyst is still there by name', async () => {
    const { runId } = await ask('Where does my AI money go?', { agent: 'analyst' });
    const events = await c.runEvents(runId);
    expect(events[0]).toMatchObject({ agent: 'analyst' });
    expect(events.at(-1)?.type).toBe('agent_completed');
  });
});
