// Tracing of the golden path, seen through an in-memory exporter: the socket's upgrade and its
// authentication, the request, its wait in the queue, the run on the worker (continuing the
// request's trace across the queue, with a link to it), its tool and model calls, and the delivery
// of its first and last event. The run's events are span events; no user text is in attributes;
// log lines written inside a span carry its ids.
import { Writable } from 'node:stream';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Agent, Tool } from '../../src/agents/types.js';
import { createLogger } from '../../src/log/logger.js';
import { ATTR, SPAN } from '../../src/telemetry/index.js';
import { primaryBackend } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const QUESTION = 'a question whose text must stay out of the spans';

const lookup: Tool<{ q: string }, { hits: number }> = {
  name: 'lookup',
  description: 'Test tool.',
  input: z.strictObject({ q: z.string() }),
  execute: async () => ({ hits: 3 }),
};

/** The five golden-path events, with one model call between thinking and the tool. */
const traced: Agent = {
  name: 'traced',
  description: 'Test agent: think, a model call, a tool call, complete.',
  async run(ctx) {
    await ctx.think('planning');
    const plan = await ctx.modelCall('test-model-1', async () => ({ text: 'use lookup', usage: { inputTokens: 12, outputTokens: 3 } }), (r) => r.usage);
    await ctx.callTool('lookup', { q: plan.text });
    return { text: 'found 3' };
  },
};

const failing: Agent = {
  name: 'failing',
  description: 'Test agent: fails at once (the executor logs it).',
  async run() {
    throw new Error('boom');
  },
};

/** The spans as an indented tree, children in start order, for the failure message and the note. */
function tree(spans: readonly ReadableSpan[]): string {
  const byParent = new Map<string, ReadableSpan[]>();
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  for (const s of spans) {
    const p = s.parentSpanContext?.spanId;
    const key = p && ids.has(p) ? p : 'root';
    byParent.set(key, [...(byParent.get(key) ?? []), s]);
  }
  const lines: string[] = [];
  const walk = (key: string, depth: number) => {
    const kids = [...(byParent.get(key) ?? [])].sort((a, b) => hr(a.startTime) - hr(b.startTime));
    for (const s of kids) {
      const events = s.events.length ? ` events=[${s.events.map((e) => e.name).join(', ')}]` : '';
      const links = s.links.length ? ` links=${s.links.length}` : '';
      lines.push(`${'  '.repeat(depth)}- ${s.name} (${SpanKind[s.kind]})${links}${events}`);
      walk(s.spanContext().spanId, depth + 1);
    }
  };
  walk('root', 0);
  return lines.join('\n');
}
const hr = (t: [number, number]) => t[0] * 1e9 + t[1];

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const logLines: Array<Record<string, unknown>> = [];
  let server: TestServer;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    server = await startServer(primaryBackend, {
      agents: [traced, failing],
      tools: [lookup as Tool],
      tracerProvider: provider,
      log: createLogger('warn', sink),
      pollIntervalMs: 600_000,
    });
  });
  afterAll(async () => {
    await server?.stop();
    await provider.shutdown();
  });

  it('records the span tree of a golden path, continuing the request trace across the queue', async () => {
    exporter.reset();
    const alice = await server.register();
    const client = await server.connect(alice.token);
    await client.waitType('session_ready');
    const accepted = await client.request(QUESTION, { agent: 'traced' });
    const runId = accepted.runId as string;
    const events = await client.runEvents(runId);
    expect(events.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed']);

    // The run span ends once the worker is done with the job, just after the terminal is sent.
    await until(() => exporter.getFinishedSpans().some((s) => s.name === SPAN.run && s.attributes[ATTR.runId] === runId), 'the run span');
    const spans = exporter.getFinishedSpans();
    const printed = tree(spans);
    console.log(`span tree of run ${runId}:\n${printed}`);

    const one = (name: string, pred: (s: ReadableSpan) => boolean = () => true) => {
      const found = spans.filter((s) => s.name === name && pred(s));
      expect(found, `${name} in\n${printed}`).toHaveLength(1);
      return found[0]!;
    };
    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    const id = (s: ReadableSpan) => s.spanContext().spanId;

    // The socket: upgrade, with its authentication as a child.
    const upgrade = one(SPAN.upgrade, (s) => s.attributes[ATTR.userId] === alice.userId);
    expect(upgrade.kind).toBe(SpanKind.SERVER);
    expect(upgrade.attributes[ATTR.upgradeStatus]).toBe(101);
    const auth = one(SPAN.auth, (s) => parentOf(s) === id(upgrade));
    expect(auth.attributes[ATTR.authKind]).toBe('token');
    expect(auth.attributes[ATTR.authResult]).toBe('ok');

    // The request is the root of the run's trace.
    const request = one(SPAN.request, (s) => s.attributes[ATTR.runId] === runId);
    expect(request.kind).toBe(SpanKind.SERVER);
    expect(parentOf(request)).toBeUndefined();
    const traceId = request.spanContext().traceId;

    // Across the queue: the wait, and the run on the worker, both children of the request; the
    // run also links to it (the context came through the runs row, not through memory).
    const wait = one(SPAN.queueWait);
    expect(parentOf(wait)).toBe(id(request));
    const run = one(SPAN.run);
    expect(run.kind).toBe(SpanKind.CONSUMER);
    expect(run.spanContext().traceId).toBe(traceId);
    expect(parentOf(run)).toBe(id(request));
    expect(run.links.map((l) => l.context.spanId)).toEqual([id(request)]);
    expect(run.attributes).toMatchObject({ [ATTR.runId]: runId, [ATTR.attempt]: 1, [ATTR.takeover]: false, [ATTR.outcome]: 'completed' });
    // The five events are span events on the run span, in order.
    expect(run.events.map((e) => e.name)).toEqual(events.map((e) => e.type));
    expect(run.events.map((e) => e.attributes?.[ATTR.seq])).toEqual([1, 2, 3, 4, 5]);

    // Inside the run: the model call and the tool call.
    const model = one(SPAN.model);
    expect(parentOf(model)).toBe(id(run));
    expect(model.attributes).toMatchObject({ [ATTR.modelName]: 'test-model-1', [ATTR.modelInputTokens]: 12, [ATTR.modelOutputTokens]: 3 });
    const tool = one(SPAN.tool);
    expect(parentOf(tool)).toBe(id(run));
    expect(tool.attributes).toMatchObject({ [ATTR.toolName]: 'lookup', [ATTR.toolOk]: true });

    // Delivery of the first and the last event to the user's one socket.
    const first = one(SPAN.deliverFirst);
    const last = one(SPAN.deliverLast);
    for (const d of [first, last]) {
      expect(parentOf(d)).toBe(id(run));
      expect(d.spanContext().traceId).toBe(traceId);
    }
    expect(first.attributes[ATTR.seq]).toBe(1);
    expect(last.attributes).toMatchObject({ [ATTR.seq]: 5, [ATTR.eventType]: 'agent_completed' });

    // The request's trace holds exactly these spans.
    expect(spans.filter((s) => s.spanContext().traceId === traceId).map((s) => s.name).sort()).toEqual(
      [SPAN.request, SPAN.queueWait, SPAN.run, SPAN.model, SPAN.tool, SPAN.deliverFirst, SPAN.deliverLast].sort(),
    );
    // No user text (and no token) in any attribute.
    const values = JSON.stringify(spans.map((s) => [s.attributes, s.events.map((e) => e.attributes)]));
    expect(values).not.toContain(QUESTION);
    expect(values).not.toContain(alice.token);
  });

  it('refused upgrades end their span with the status', async () => {
    exporter.reset();
    await expect(server.connect('not-a-token')).rejects.toThrow(/401/);
    const spans = await until(() => {
      const s = exporter.getFinishedSpans().filter((x) => x.name === SPAN.upgrade);
      return s.length > 0 && s;
    }, 'the upgrade span');
    expect(spans[0]!.attributes[ATTR.upgradeStatus]).toBe(401);
    const auth = exporter.getFinishedSpans().find((s) => s.name === SPAN.auth);
    expect(auth?.attributes[ATTR.authResult]).toBe('refused');
  });

  it('log lines written inside a run carry its trace_id and span_id', async () => {
    exporter.reset();
    const bob = await server.register();
    const client = await server.connect(bob.token);
    await client.waitType('session_ready');
    const accepted = await client.request('fail please', { agent: 'failing' });
    const runId = accepted.runId as string;
    const events = await client.runEvents(runId);
    expect(events.at(-1)?.type).toBe('agent_error');
    const run = await until(() => exporter.getFinishedSpans().find((s) => s.name === SPAN.run && s.attributes[ATTR.runId] === runId), 'the run span');
    const line = logLines.find((l) => l.msg === 'run failed' && l.runId === runId);
    expect(line).toMatchObject({ trace_id: run.spanContext().traceId, span_id: run.spanContext().spanId });
    expect(run.attributes[ATTR.outcome]).toBe('failed');
  });
});
