// Shared pieces of the SSE front-end tests: agents whose runs have every part a chat shows, a
// minimal `AbstractChat` (the class `useChat` wraps) for Node, and reading a run's stored events.
import { AbstractChat, type ChatInit, type ChatState, type ChatStatus, type UIMessage } from 'ai';
import type { Agent } from '../../src/agents/types.js';
import type { RunEvent } from '../../src/protocol/events.js';

/** Reasoning, three real tool calls with results, then a streamed answer. */
export const toolsAgent: Agent = {
  name: 'tools3',
  description: 'Test agent: thinks, calls three tools, streams an answer.',
  async run(ctx) {
    await ctx.think(`planning: ${ctx.input.text}`);
    await ctx.think(' (three look-ups)');
    for (const model of ['gpt-4o', 'gpt-4.1', 'o3']) await ctx.callTool('pricing_lookup', { models: [model] });
    const pieces = ['Prices ', 'were looked ', 'up for three models.'];
    for (const p of pieces) await ctx.output(p);
    return { text: pieces.join('') };
  },
};

/** Fails as an agent does when it throws. */
export const failingAgent: Agent = {
  name: 'failing',
  description: 'Test agent: thinks, then throws.',
  async run(ctx) {
    await ctx.think('about to fail');
    throw new Error('boom');
  },
};

class NodeChatState<M extends UIMessage> implements ChatState<M> {
  status: ChatStatus = 'ready';
  error: Error | undefined;
  messages: M[];
  constructor(messages: M[] = []) {
    this.messages = messages;
  }
  pushMessage = (m: M) => void this.messages.push(m);
  popMessage = () => void this.messages.pop();
  replaceMessage = (i: number, m: M) => void (this.messages[i] = m);
  snapshot = <T>(thing: T): T => structuredClone(thing);
}

/** `useChat` without React: the AI SDK's own chat logic over a plain state. */
export class NodeChat extends AbstractChat<UIMessage> {
  constructor(init: Omit<ChatInit<UIMessage>, 'messages'> & { messages?: UIMessage[] }) {
    super({ ...init, state: new NodeChatState(init.messages ?? []) });
  }
}

export async function storedEvents(url: string, token: string, runId: string): Promise<RunEvent[]> {
  const r = await fetch(`${url}/v1/runs/${runId}/events`, { headers: { authorization: `Bearer ${token}` } });
  if (r.status !== 200) throw new Error(`events: ${r.status}`);
  return ((await r.json()) as { events: RunEvent[] }).events;
}

export const textOfMessage = (m: UIMessage | undefined): string =>
  (m?.parts ?? []).filter((p): p is { type: 'text'; text: string } => p.type === 'text').map((p) => p.text).join('');
