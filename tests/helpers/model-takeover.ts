// The takeover contract of an agent whose model cannot repeat itself (agentwire's LLM agent, an AI
// SDK agent): written once, run by each adapter's suite inside its own `describe`. A stored tool
// result goes back to the model as it was (the tool is not called again) and a half-streamed answer
// is continued; a call the crash left open runs again under its own toolCallId before the model is
// asked (found by the crash sweep: closed as interrupted, the model made the call again under a new
// id, so a tool that had done its side effect did it twice).
import { expect, it } from 'vitest';
import { replayRun, type RunMachineEvent } from '../../machines/run.machine.js';
import type { RunEvent } from '../../src/protocol/events.js';
import type { Outcome } from '../../src/runs/executor.js';
import { answer, type FakeProvider, type ProviderRequest } from './llm-provider.js';

type Messages = ProviderRequest['body']['messages'];

/** The run statechart's verdict on a whole stored log ('completed' for a whole, finished run). */
export const grammarOf = (all: RunEvent[]) => replayRun(all.map((e) => ({ ...e }) as unknown as RunMachineEvent))?.value;

export interface ModelTakeover {
  provider: FakeProvider;
  /** A run whose first attempt stored `events` (after agent_started) and died, taken over: the log after, what the crashed attempt stored, what the model was sent. */
  takeOver(events: Array<Record<string, unknown>>): Promise<{ outcome: Outcome; all: RunEvent[]; before: number; sent: Messages[] }>;
  /** The `double` tool's executions so far in this test. */
  calls(): number;
  /** Their toolCallIds, when the suite records them. */
  ids?(): string[];
  /** The exact tool message the adapter sends for a `{ doubled: 2 }` result, when the suite pins it. */
  toolMessage?: string;
  /** What the model is sent before the user's question (a system prompt), if anything. */
  preamble: Messages;
  /** The question every taken-over run asked ('double 1, please'). */
  question: string;
  /** The adapter's "go on" message after a cut-off answer. */
  continueText: string;
}

export function itTakesOverLikeAModel(m: ModelTakeover): void {
  it('reuses the stored tool result and continues the half-streamed answer: one model call, the tool not called again', async () => {
    m.provider.enqueue({ chunks: answer([' 2', ', done.']) });
    const { outcome, all, before, sent } = await m.takeOver([
      { type: 'tool_executing', toolCallId: 'c1', tool: 'double', args: { n: 1 } },
      { type: 'tool_completed', toolCallId: 'c1', tool: 'double', ok: true, result: { doubled: 2 }, durationMs: 1 },
      { type: 'agent_output', text: 'The result is' },
    ]);
    // The terminal event beside the outcome: a failure shows why the attempt ended.
    expect({ outcome, terminal: all.at(-1) }).toMatchObject({ outcome: 'completed', terminal: { type: 'agent_completed' } });
    expect(m.calls()).toBe(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toEqual([
      ...m.preamble,
      { role: 'user', content: m.question },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'double', arguments: '{"n":1}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: '{"doubled":2}' },
      { role: 'assistant', content: 'The result is' },
      { role: 'user', content: m.continueText },
    ]);
    // Only what comes after is stored, and the answer is everything the client was sent.
    expect(all.slice(before).map((e) => e.type)).toEqual(['agent_output', 'agent_completed']);
    expect(all.at(-1)).toMatchObject({ type: 'agent_completed', text: 'The result is 2, done.' });
    expect(grammarOf(all)).toBe('completed');
  });

  it('a tool call the crash left open runs again under its own toolCallId (its idempotency key), and the model gets its result', async () => {
    m.provider.enqueue({ chunks: answer(['Two.']) });
    const { outcome, all, before, sent } = await m.takeOver([
      { type: 'agent_thinking', text: 'I will double 1.' },
      { type: 'tool_executing', toolCallId: 'c1', tool: 'double', args: { n: 1 } },
    ]);
    expect(outcome).toBe('completed');
    const after = all.slice(before);
    expect(after.map((e) => e.type)).toEqual(['tool_completed', 'agent_output', 'agent_completed']);
    expect(after[0]).toMatchObject({ type: 'tool_completed', toolCallId: 'c1', ok: true, result: { doubled: 2 } });
    expect(m.calls()).toBe(1);
    if (m.ids) expect(m.ids()).toEqual(['c1']);
    // The model is asked once, with the call's real result: it has no reason to call again.
    expect(sent).toHaveLength(1);
    expect(sent[0]!.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'c1' });
    expect(String(sent[0]!.at(-1)!.content)).toContain('"doubled":2');
    if (m.toolMessage !== undefined) expect(sent[0]!.at(-1)!.content).toBe(m.toolMessage);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(grammarOf(all)).toBe('completed');
  });
}
