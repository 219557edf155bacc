// The SSE front-end folds (src/frontends/) over generated valid run logs: folding the whole log
// gives exactly what a first connection that got a prefix and a second one that replayed the rest
// from a fresh fold (what the server does for `afterSeq`) give together; and the real clients
// (ai 6's DefaultChatTransport + readUIMessageStream, @ag-ui/client 1.0.0 and 0.0.59's SSE parser
// and verifyEvents) accept every generated log as served.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DefaultChatTransport, readUIMessageStream, type UIMessage } from 'ai';
import { transformHttpEventStream as parse100, verifyEvents as verify100 } from '@ag-ui/client';
import { transformHttpEventStream as parse059, verifyEvents as verify059 } from '@ag-ui/client-0059';
import { asapScheduler, lastValueFrom, scheduled, toArray, type Observable } from 'rxjs';
import { AgUiFold } from '../../src/frontends/ag-ui.js';
import { AiSdkFold } from '../../src/frontends/ai-sdk.js';
import { sseFrame } from '../../src/frontends/sse.js';
import type { RunEvent } from '../../src/protocol/events.js';

const RUN = '11111111-1111-4111-8111-111111111111';
const THREAD = '22222222-2222-4222-8222-222222222222';

type Cmd =
  | { k: 'think'; text: string; agent?: string }
  | { k: 'output'; text: string }
  | { k: 'open'; tool: string; args: unknown; agent?: string }
  | { k: 'close'; pick: number; ok: boolean; result: unknown };

const text = fc.string({ minLength: 0, maxLength: 12 });
const agent = fc.option(fc.constantFrom('sub_a', 'sub_b'), { nil: undefined });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ k: fc.constant('think' as const), text, agent }),
  fc.record({ k: fc.constant('output' as const), text: fc.string({ minLength: 1, maxLength: 12 }) }),
  fc.record({ k: fc.constant('open' as const), tool: fc.constantFrom('lookup', 'ask_sub_a'), args: fc.jsonValue({ maxDepth: 2 }), agent }),
  fc.record({ k: fc.constant('close' as const), pick: fc.nat(), ok: fc.boolean(), result: fc.jsonValue({ maxDepth: 2 }) }),
);
const terminal = fc.constantFrom('completed', 'error', 'cancelled');

/** A valid log (PROTOCOL section 4's grammar) from commands. */
function logOf(cmds: Cmd[], end: string, streamedAnswer: boolean): RunEvent[] {
  const out: RunEvent[] = [];
  const base = () => ({ runId: RUN, threadId: THREAD, seq: out.length + 1, ts: '2026-11-29T00:00:00.000Z' });
  const clean = <T extends Record<string, unknown>>(o: T) => JSON.parse(JSON.stringify(o)) as T; // as stored: no undefined fields
  out.push({ type: 'agent_started', ...base(), agent: 'a', input: { text: 'q' } });
  const open: Array<{ id: string; tool: string }> = [];
  let calls = 0;
  let answer = '';
  for (const c of cmds) {
    if (c.k === 'think') out.push(clean({ type: 'agent_thinking', ...base(), text: c.text, agent: c.agent }));
    else if (c.k === 'output') {
      if (!streamedAnswer) continue;
      answer += c.text;
      out.push({ type: 'agent_output', ...base(), text: c.text });
    } else if (c.k === 'open') {
      const id = `call-${++calls}`;
      open.push({ id, tool: c.tool });
      out.push(clean({ type: 'tool_executing', ...base(), toolCallId: id, tool: c.tool, args: c.args, agent: c.agent }));
    } else if (open.length > 0) {
      const [call] = open.splice(c.pick % open.length, 1);
      out.push(clean({ type: 'tool_completed', ...base(), toolCallId: call!.id, tool: call!.tool, ok: c.ok, ...(c.ok ? { result: c.result } : { error: 'failed' }), durationMs: 1 }));
    }
  }
  if (end === 'completed') {
    for (const call of open.splice(0)) out.push({ type: 'tool_completed', ...base(), toolCallId: call.id, tool: call.tool, ok: true, result: 1, durationMs: 1 });
    out.push({ type: 'agent_completed', ...base(), text: streamedAnswer ? answer : 'the whole answer', durationMs: 1, usage: { inputTokens: 1, outputTokens: 2 } });
  } else if (end === 'error') out.push({ type: 'agent_error', ...base(), code: 'agent_failed', message: 'boom', retryable: true });
  else out.push({ type: 'agent_cancelled', ...base(), reason: 'cancelled by user' });
  return out;
}

const logs = fc.tuple(fc.array(cmd, { maxLength: 14 }), terminal, fc.boolean()).map(([c, t, s]) => logOf(c, t, s));

const aiSdkFrames = (fold: AiSdkFold, events: RunEvent[]) =>
  events.map((e) => {
    const chunks = fold.push(e);
    return chunks.map((c, i) => sseFrame(JSON.stringify(c), i === chunks.length - 1 ? e.seq : undefined)).join('') + (fold.ended ? sseFrame('[DONE]') : '');
  });
const agUiFrames = (fold: AgUiFold, events: RunEvent[]) => events.map((e) => fold.push(e).map((ev) => sseFrame(JSON.stringify(ev), e.seq)).join(''));
const agUiOptions = (cancelledOutcome: boolean) => ({ threadId: 't', runId: 'r', cancelledOutcome });

describe('SSE front-end folds', () => {
  it('fold(whole log) = fold(prefix) + replay(rest) from a fresh fold, for both protocols', () => {
    fc.assert(
      fc.property(logs, fc.nat(), (log, at) => {
        const k = at % (log.length + 1);
        const whole = aiSdkFrames(new AiSdkFold(), log).join('');
        const replay = new AiSdkFold();
        for (const e of log.slice(0, k)) replay.push(e);
        expect(aiSdkFrames(new AiSdkFold(), log.slice(0, k)).join('') + aiSdkFrames(replay, log.slice(k)).join('')).toBe(whole);

        const agWhole = agUiFrames(new AgUiFold(agUiOptions(true)), log).join('');
        const agReplay = new AgUiFold(agUiOptions(true));
        for (const e of log.slice(0, k)) agReplay.push(e);
        expect(agUiFrames(new AgUiFold(agUiOptions(true)), log.slice(0, k)).join('') + agUiFrames(agReplay, log.slice(k)).join('')).toBe(agWhole);
      }),
      { numRuns: 200 },
    );
  });

  it('ai 6 accepts every generated log: one message, the stored answer as text, every tool call', async () => {
    await fc.assert(
      fc.asyncProperty(logs, async (log) => {
        const sse = aiSdkFrames(new AiSdkFold(), log).join('');
        const transport = new DefaultChatTransport<UIMessage>({
          api: 'http://agentwire.invalid/v1/ai-sdk/chat',
          fetch: async () => new Response(sse, { headers: { 'content-type': 'text/event-stream', 'x-vercel-ai-ui-message-stream': 'v1' } }),
        });
        const stream = await transport.sendMessages({ chatId: 'c', trigger: 'submit-message', messageId: undefined, abortSignal: undefined, messages: [] });
        let message: UIMessage | undefined;
        for await (const m of readUIMessageStream({ stream })) message = m;
        const last = log.at(-1)!;
        expect(message?.id).toBe(`aw-${RUN}`);
        const texts = message?.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('');
        if (last.type === 'agent_completed') expect(texts).toBe(last.text);
        const calls = log.filter((e) => e.type === 'tool_executing').length;
        expect(message?.parts.filter((p) => p.type === 'dynamic-tool')).toHaveLength(calls);
      }),
      { numRuns: 60 },
    );
  });

  for (const [version, parse, verify, cancelledOutcome] of [
    ['1.0.0', parse100, verify100, true],
    ['0.0.59', parse059, verify059, false],
  ] as const) {
    it(`@ag-ui/client ${version} parses and verifies every generated log, and every join of it`, async () => {
      const accept = async (sse: string) => {
        // Emitted after subscription, as a response body is: the parser's subject is hot.
        const http = scheduled(
          [
            { type: 'headers' as const, status: 200, headers: new Headers({ 'content-type': 'text/event-stream' }) },
            { type: 'data' as const, data: new TextEncoder().encode(sse) },
          ],
          asapScheduler,
        );
        // The client's own SSE parsing and validation, then its lifecycle checks.
        const parsed = (parse as unknown as (s: unknown) => Observable<unknown>)(http);
        return lastValueFrom(parsed.pipe((verify as unknown as () => (s: Observable<unknown>) => Observable<unknown>)(), toArray()));
      };
      await fc.assert(
        fc.asyncProperty(logs, fc.nat(), async (log, at) => {
          const events = (await accept(agUiFrames(new AgUiFold(agUiOptions(cancelledOutcome)), log).join(''))) as Array<{ type: string }>;
          expect(events[0]?.type).toBe('RUN_STARTED');
          expect(['RUN_FINISHED', 'RUN_ERROR']).toContain(events.at(-1)?.type);
          // A join after any seq: RUN_STARTED, MESSAGES_SNAPSHOT, the re-openings, the rest.
          const k = 1 + (at % log.length);
          const fold = new AgUiFold(agUiOptions(cancelledOutcome));
          for (const e of log.slice(0, k)) fold.push(e);
          const prelude = [fold.runStarted(k, RUN), fold.snapshotEvent(k, [{ id: 'u', role: 'user', content: 'q' }]), ...fold.reopen(k)].map((e) => sseFrame(JSON.stringify(e), k)).join('');
          const rest = log.slice(k).map((e) => fold.push(e).filter((ev) => ev.type !== 'RUN_STARTED').map((ev) => sseFrame(JSON.stringify(ev), e.seq)).join('')).join('');
          const joined = (await accept(prelude + rest)) as Array<{ type: string }>;
          expect(joined.slice(0, 2).map((e) => e.type)).toEqual(['RUN_STARTED', 'MESSAGES_SNAPSHOT']);
        }),
        { numRuns: 60 },
      );
    });
  }
});
