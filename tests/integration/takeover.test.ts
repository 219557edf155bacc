// A run taken over after a crash is replayed against its stored events: steps the agent repeats
// are not stored again, a stored tool result is reused (the tool is not called), a tool call the
// crash left open is answered, and a diverging agent continues with the next seq. The attempt
// that takes a run over continues the trace of the request that started it.
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { beforeEach, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../src/agents/registry.js';
import type { Tool } from '../../src/agents/types.js';
import { createLogger } from '../../src/log/logger.js';
import type { RunQueue } from '../../src/runs/queue.js';
import { RunWorker } from '../../src/runs/worker.js';
import { ATTR, SPAN, Telemetry } from '../../src/telemetry/index.js';
import { doubleTool, stepsAgent } from '../helpers/agents.js';
import { backends } from '../helpers/backends.js';
import { migratedDbPerTest, type TestDb } from '../helpers/db.js';
import { attemptDeps, crashedRun, takeOver as takeOverRun } from '../helpers/crashed-run.js';
import { until } from '../helpers/wait.js';

let calls = 0;
const counted = doubleTool(() => calls++);
const agent = stepsAgent;

describe.each(backends)('takeover replay on %s', (backend) => {
  let t: TestDb;
  migratedDbPerTest(backend, (db) => (t = db));
  beforeEach(() => {
    calls = 0;
  });

  /** A run whose first attempt stored `events` and died. */
  const crashed = (events: Array<Record<string, unknown>>) => crashedRun(t.db, { agent: 'steps', text: 'go', events });

  /** The executor's dependencies: the real database, the test agent and its counted tool. */
  const agents = (variant = '') => new AgentRegistry().addAgent(agent(variant)).addTool(counted as Tool);
  const executorDeps = (variant = '') => attemptDeps(t.db, agents(variant));

  const takeOver = (events: Array<Record<string, unknown>>, variant = '') => takeOverRun(t.db, { agent: 'steps', text: 'go', events, agents: agents(variant) });

  it('reuses a stored tool result and stores only what comes after', async () => {
    const { outcome, published, all } = await takeOver([
      { type: 'agent_thinking', text: 'first' },
      { type: 'tool_executing', toolCallId: 'c1', tool: 'double', args: { n: 1 } },
      { type: 'tool_completed', toolCallId: 'c1', tool: 'double', ok: true, result: { doubled: 2 }, durationMs: 1 },
    ]);
    expect(outcome).toBe('completed');
    expect(calls).toBe(1); // only double(2): double(1)'s stored result was reused
    expect(published.map((e) => [e.seq, e.type])).toEqual([
      [5, 'agent_thinking'],
      [6, 'tool_executing'],
      [7, 'tool_completed'],
      [8, 'agent_completed'],
    ]);
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(all.at(-1)).toMatchObject({ type: 'agent_completed', text: 'sum 6' });
  });

  it('calls again a tool whose call the crash interrupted, under the same toolCallId', async () => {
    const { all } = await takeOver([
      { type: 'agent_thinking', text: 'first' },
      { type: 'tool_executing', toolCallId: 'c1', tool: 'double', args: { n: 1 } },
    ]);
    expect(calls).toBe(2);
    expect(all[3]).toMatchObject({ seq: 4, type: 'tool_completed', toolCallId: 'c1', ok: true });
    expect(all.filter((e) => e.type === 'tool_executing')).toHaveLength(2);
    expect(all.at(-1)).toMatchObject({ type: 'agent_completed', text: 'sum 6' });
  });

  it('finishes an interrupted call under its own toolCallId when the agent goes another way, keeping the grammar', async () => {
    const { all, outcome } = await takeOver(
      [
        { type: 'agent_thinking', text: 'first' },
        { type: 'tool_executing', toolCallId: 'c1', tool: 'double', args: { n: 1 } },
        { type: 'tool_completed', toolCallId: 'c1', tool: 'double', ok: true, result: { doubled: 2 }, durationMs: 1 },
        { type: 'agent_thinking', text: 'second' },
        { type: 'tool_executing', toolCallId: 'c2', tool: 'double', args: { n: 99 } },
      ],
      ' (changed)',
    );
    expect(outcome).toBe('completed');
    const after = all.slice(6);
    // The call was made (stored) and may have had its effect: it is run again under its id (the
    // tool's idempotency key) rather than left to a new call; found by the crash sweep.
    expect(after[0]).toMatchObject({ type: 'tool_completed', toolCallId: 'c2', ok: true, result: { doubled: 198 } });
    expect(after.map((e) => e.type)).toEqual(['tool_completed', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed']);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
  });

  it('matches text it stored repaired (a NUL became U+FFFD) as the same step: nothing stored twice', async () => {
    // The first attempt thought "second\u0000", stored as "second\uFFFD", and died inside double(2).
    const { all, published } = await takeOver(
      [
        { type: 'agent_thinking', text: 'first' },
        { type: 'tool_executing', toolCallId: 'c1', tool: 'double', args: { n: 1 } },
        { type: 'tool_completed', toolCallId: 'c1', tool: 'double', ok: true, result: { doubled: 2 }, durationMs: 1 },
        { type: 'agent_thinking', text: 'second\uFFFD' },
        { type: 'tool_executing', toolCallId: 'c2', tool: 'double', args: { n: 2 } },
      ],
      '\u0000',
    );
    expect(calls).toBe(1);
    expect(published.map((e) => [e.type, 'toolCallId' in e ? e.toolCallId : undefined])).toEqual([
      ['tool_completed', 'c2'],
      ['agent_completed', undefined],
    ]);
    expect(all.at(-1)).toMatchObject({ type: 'agent_completed', text: 'sum 6' });
  });

  it('continues the request trace on the attempt that takes the run over, with a link to the request', async () => {
    const { run } = await crashed([{ type: 'agent_thinking', text: 'first' }]);
    // The crashed attempt's request context, as the accepting transaction stored it.
    const traceId = 'a'.repeat(31) + '1';
    const requestSpanId = 'b'.repeat(15) + '2';
    await t.db.query(
      `UPDATE runs SET trace_context = $2, lease_owner = 'dead', lease_expires_at = now() - interval '1 second' WHERE id = $1`,
      [run.id, `00-${traceId}-${requestSpanId}-01`],
    );
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const telemetry = new Telemetry({ enabled: true, tracer: provider.getTracer('test'), recordContent: false });
    // Only the takeover scan matters here: the queue hands out nothing.
    const queue = { take: async () => [] } as unknown as RunQueue;
    const worker = new RunWorker(
      t.db,
      queue,
      { publish: () => undefined },
      { ...executorDeps(), telemetry },
      createLogger('silent'),
      { concurrency: 2, pollIntervalMs: 60_000, nodeId: 'alive', leaseMs: 60_000, maxAttempts: 5, retryDelayMs: 1_000, telemetry },
    );
    worker.start();
    try {
      const span = await until(() => exporter.getFinishedSpans().find((s) => s.name === SPAN.run), 'the takeover attempt span');
      expect(span.spanContext().traceId).toBe(traceId);
      expect(span.parentSpanContext?.spanId).toBe(requestSpanId);
      expect(span.links.map((l) => l.context.spanId)).toEqual([requestSpanId]);
      expect(span.attributes).toMatchObject({ [ATTR.runId]: run.id, [ATTR.attempt]: 3, [ATTR.takeover]: true, [ATTR.outcome]: 'completed' });
      // Only what this attempt stored becomes span events; no queue wait on a takeover.
      expect(span.events.map((e) => e.name)).toEqual(['tool_executing', 'tool_completed', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed']);
      expect(exporter.getFinishedSpans().filter((s) => s.name === SPAN.queueWait)).toEqual([]);
      const tools = exporter.getFinishedSpans().filter((s) => s.name === SPAN.tool);
      expect(tools).toHaveLength(2);
      for (const tool of tools) expect(tool.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
    } finally {
      await worker.stop();
      await provider.shutdown();
    }
  });
});
