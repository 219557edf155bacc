// agentwire/ai-sdk: an agent written with the Vercel AI SDK (ai 6, @ai-sdk/openai-compatible) on the
// real runtime, against the local server speaking OpenAI's Chat Completions stream. Reasoning
// becomes agent_thinking, text agent_output (coalesced), tool calls go through ctx.callTool, so
// they are validated, stored and, after a takeover, not made again: the stored result goes back to
// the model as it was, and an answer the crash cut off is continued, not restarted.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { replayRun, type RunMachineEvent } from '../../machines/run.machine.js';
import { aiSdkAgent, CONTINUE } from '../../src/ai-sdk/index.js';
import { buildRegistry } from '../../src/agents/registry.js';
import { defineTool, type Tool } from '../../src/index.js';
import { createLogger } from '../../src/log/logger.js';
import type { RunEvent } from '../../src/protocol/events.js';
import { executeRun } from '../../src/runs/executor.js';
import { NO_HANDOFF } from '../../src/runs/handoff.js';
import { RunRecorder } from '../../src/runs/recorder.js';
import { readEvents } from '../../src/store/event-log.js';
import { migrate } from '../../src/store/migrations.js';
import { createHarness, type Harness } from '../../src/testing/index.js';
import { backends } from '../helpers/backends.js';
import { crashedRun } from '../helpers/crashed-run.js';
import { openTestDb, type TestDb } from '../helpers/db.js';
import { answer, callTool, chunk, FakeProvider } from '../helpers/llm-provider.js';

let calls = 0;
const double = defineTool({
  name: 'double',
  description: 'Doubles n (counts its calls).',
  input: z.strictObject({ n: z.number() }),
  async execute({ n }) {
    calls++;
    return { doubled: n * 2 };
  },
});

const provider = new FakeProvider();
const agent = () =>
  aiSdkAgent({
    name: 'sdk',
    description: 'An AI SDK agent',
    model: createOpenAICompatible({ name: 'local', baseURL: provider.url })('gpt-4o-mini'),
    system: 'Be brief.',
    tools: [double as Tool],
    maxSteps: 4,
    coalesce: { maxDelayMs: 10, maxChars: 100 },
    settings: { maxRetries: 0 },
  });

const grammarHolds = (all: RunEvent[]) => replayRun(all.map((e) => ({ ...e }) as unknown as RunMachineEvent))?.value;

beforeAll(async () => {
  await provider.start();
});
afterAll(async () => {
  await provider.stop();
});
beforeEach(() => {
  calls = 0;
  provider.drop();
});

describe('agentwire/ai-sdk on the embedded runtime', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ agents: [agent()], tools: [double] });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reasoning → agent_thinking, the tool through ctx.callTool, text → agent_output, usage from the provider', async () => {
    const first = provider.requests.length;
    provider.enqueue(
      { chunks: [chunk.role(), chunk.reasoning('Doubling 21 '), chunk.reasoning('with the tool.'), ...callTool('call_1', 'double', { n: 21 }, [50, 5]).slice(1)] },
      { chunks: answer(['It ', 'is ', '42.'], [80, 3]) },
    );
    const run = await h.run({ agent: 'sdk', text: 'double 21' });
    expect(run.verdict).toEqual({ ok: true, state: 'completed' });
    expect(run.events.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_output', 'agent_completed']);
    expect(run.events[1]).toMatchObject({ text: 'Doubling 21 with the tool.' });
    expect(run.events[2]).toMatchObject({ tool: 'double', args: { n: 21 } });
    expect(run.events[3]).toMatchObject({ tool: 'double', ok: true, result: { doubled: 42 } });
    expect(run.terminal).toMatchObject({ type: 'agent_completed', text: 'It is 42.', usage: { inputTokens: 130, outputTokens: 8 } });
    expect(calls).toBe(1);
    const sent = provider.requests.slice(first).map((r) => r.body);
    expect(sent[0]!.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'double 21' },
    ]);
    expect(sent[0]!.tools?.map((t) => t.function.name)).toEqual(['double']);
    expect(sent[1]!.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_1', content: '{"doubled":42}' });
  });

  it('arguments the schema refuses are a recorded failed call; the model is told and answers', async () => {
    provider.enqueue({ chunks: callTool('call_bad', 'double', { n: 'twenty' }) }, { chunks: answer(['Sorry.']) });
    const run = await h.run({ agent: 'sdk', text: 'double twenty' });
    expect(run.events.map((e) => e.type)).toEqual(['agent_started', 'tool_executing', 'tool_completed', 'agent_output', 'agent_completed']);
    expect(run.events[2]).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid arguments: n: /) });
    expect(calls).toBe(0);
    expect(JSON.parse(provider.requests.at(-1)!.body.messages.at(-1)!.content!)).toMatchObject({ error: expect.stringMatching(/^invalid arguments/) });
    expect(run.verdict.ok).toBe(true);
  });

  it('a provider that keeps failing ends the run with agent_error model_unavailable, its text not repeated', async () => {
    provider.enqueue({ status: 503, body: { error: { message: 'overloaded; key sk-secret-123' } } });
    const run = await h.run({ agent: 'sdk', text: 'hello' });
    expect(run.terminal).toMatchObject({ type: 'agent_error', code: 'model_unavailable', retryable: true });
    expect(JSON.stringify(run.events)).not.toContain('sk-secret');
  });
});

describe.each(backends)('agentwire/ai-sdk takeover on %s', (backend) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(backend);
    await migrate(t.db);
  });
  afterAll(async () => {
    await t?.dispose();
  });

  /** A run whose first attempt stored `events` and died, taken over by a second attempt. */
  async function takeOver(events: Array<Record<string, unknown>>) {
    const { run, stored, runId, threadId, userId } = await crashedRun(t.db, { agent: 'sdk', text: 'double 1, please', events });
    const recorder = new RunRecorder({ runId, threadId, userId }, run.attempt, t.db, { publish: () => undefined }, stored);
    const sentBefore = provider.requests.length;
    const { registry } = buildRegistry({ agents: [agent()], tools: [double], log: createLogger('silent') });
    const outcome = await executeRun(
      { db: t.db, agents: registry, log: createLogger('silent'), history: async () => [], afterTerminal: async () => NO_HANDOFF, toolTimeoutMs: 5_000, runTimeoutMs: 60_000 },
      run,
      recorder,
      new AbortController().signal,
    );
    const all = (await readEvents(t.db, runId, 0)).map((s) => s.event);
    return { outcome, all, before: stored.length, sent: provider.requests.slice(sentBefore).map((r) => r.body.messages) };
  }

  it('reuses the stored tool result and continues the half-streamed answer: one model call, the tool not called again', async () => {
    provider.enqueue({ chunks: answer([' 2', ', done.']) });
    const { outcome, all, before, sent } = await takeOver([
      { type: 'tool_executing', toolCallId: 'c1', tool: 'double', args: { n: 1 } },
      { type: 'tool_completed', toolCallId: 'c1', tool: 'double', ok: true, result: { doubled: 2 }, durationMs: 1 },
      { type: 'agent_output', text: 'The result is' },
    ]);
    expect(outcome).toBe('completed');
    expect(calls).toBe(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'double 1, please' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'double', arguments: '{"n":1}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: '{"doubled":2}' },
      { role: 'assistant', content: 'The result is' },
      { role: 'user', content: CONTINUE },
    ]);
    expect(all.slice(before).map((e) => e.type)).toEqual(['agent_output', 'agent_completed']);
    expect(all.at(-1)).toMatchObject({ type: 'agent_completed', text: 'The result is 2, done.' });
    expect(grammarHolds(all)).toBe('completed');
  });

  it('a call the crash left open runs again under its own toolCallId, and the model gets its result', async () => {
    // Before (found by the crash sweep): closed as interrupted, the model called the tool again
    // under a new id, so a tool that had done its effect before the death did it twice.
    provider.enqueue({ chunks: answer(['Two.']) });
    const { outcome, all, before, sent } = await takeOver([
      { type: 'agent_thinking', text: 'I will double 1.' },
      { type: 'tool_executing', toolCallId: 'c1', tool: 'double', args: { n: 1 } },
    ]);
    expect(outcome).toBe('completed');
    const after = all.slice(before);
    expect(after.map((e) => e.type)).toEqual(['tool_completed', 'agent_output', 'agent_completed']);
    expect(after[0]).toMatchObject({ toolCallId: 'c1', ok: true, result: { doubled: 2 } });
    expect(calls).toBe(1);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'c1' });
    expect(String(sent[0]!.at(-1)!.content)).toContain('"doubled":2');
    expect(grammarHolds(all)).toBe('completed');
  });
});
