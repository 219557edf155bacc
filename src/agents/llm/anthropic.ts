// The same model step over Anthropic's Messages API, with the `@anthropic-ai/sdk` client. The
// agent speaks OpenAI's message shapes; this module translates them (system prompt apart, tool
// calls as `tool_use` blocks, tool results as `tool_result` blocks of a user turn) and reads
// Anthropic's stream events (`content_block_*`, `message_delta`, `message_stop`) into the same
// `StreamedStep`. Retries before the stream (429, 5xx, 529 overloaded) are the client's, as for
// OpenAI.
import Anthropic from '@anthropic-ai/sdk';
import type { ContentBlockParam, MessageParam, Tool as AnthropicTool } from '@anthropic-ai/sdk/resources/messages';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { CallWatch, clientLogging, type ModelStream, type ProviderOptions, type StreamedToolCall, type StreamLogging } from './provider.js';

/** Anthropic requires a limit on each answer; this one is used when none is configured. */
const DEFAULT_MAX_TOKENS = 4096;

export function createAnthropicClient(o: ProviderOptions): Anthropic {
  return new Anthropic({
    baseURL: o.baseURL,
    // Explicit, so the library never reads ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN from the environment.
    apiKey: o.apiKey ?? null,
    authToken: null,
    maxRetries: o.maxRetries,
    timeout: o.timeoutMs,
    ...clientLogging(o),
  });
}

export const anthropicStream =
  (client: Anthropic, logging: StreamLogging = {}): ModelStream =>
  async (req, signal, idleMs, on) => {
    const watch = new CallWatch(signal, idleMs, logging);
    const { system, messages } = toAnthropic(req.messages);
    const tools = toTools(req.tools);
    const calls = new Map<number, StreamedToolCall>();
    let content = '';
    let inputTokens = 0;
    let outputTokens = 0;
    let started = false;
    let finished = false;
    try {
      const stream = await client.messages.create(
        {
          model: req.model,
          max_tokens: req.maxOutputTokens ?? DEFAULT_MAX_TOKENS,
          messages,
          ...(system ? { system } : {}),
          ...(tools.length > 0 ? { tools } : {}),
          stream: true,
        },
        { signal: watch.controller.signal },
      );
      started = true;
      watch.alive();
      for await (const e of stream) {
        watch.alive();
        switch (e.type) {
          case 'message_start': {
            const u = e.message.usage;
            inputTokens = u.input_tokens + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0);
            outputTokens = u.output_tokens;
            break;
          }
          case 'content_block_start': {
            const b = e.content_block;
            if (b.type === 'tool_use') calls.set(e.index, { id: b.id, name: b.name, arguments: '' });
            else if (b.type === 'text' && b.text) {
              content += b.text;
              on.content(b.text);
            } else if (b.type === 'thinking' && b.thinking) on.reasoning(b.thinking);
            break;
          }
          case 'content_block_delta': {
            const d = e.delta;
            if (d.type === 'text_delta') {
              content += d.text;
              on.content(d.text);
            } else if (d.type === 'thinking_delta') on.reasoning(d.thinking);
            else if (d.type === 'input_json_delta') {
              const c = calls.get(e.index);
              if (c) c.arguments += d.partial_json;
            }
            break;
          }
          case 'message_delta':
            // Cumulative counts.
            outputTokens = e.usage.output_tokens;
            if (e.delta.stop_reason) finished = true;
            break;
          case 'message_stop':
            finished = true;
            break;
          default:
            break;
        }
      }
      watch.checkEnd(finished);
    } catch (err) {
      if (!watch.finishedDespite(err, finished)) throw watch.failure(err, started, err instanceof Anthropic.APIError ? err.status : undefined);
    } finally {
      watch.close();
    }
    const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
    return { content, toolCalls, usage: { inputTokens, outputTokens } };
  };

function toTools(tools: readonly ChatCompletionTool[]): AnthropicTool[] {
  return tools.flatMap((t) =>
    t.type === 'function'
      ? [{ name: t.function.name, description: t.function.description ?? '', input_schema: { type: 'object' as const, ...(t.function.parameters ?? {}) } }]
      : [],
  );
}

const text = (c: unknown): string =>
  typeof c === 'string' ? c : Array.isArray(c) ? c.map((p: { text?: unknown }) => (typeof p.text === 'string' ? p.text : '')).join('') : '';

/** OpenAI-shaped messages as Anthropic's: the system prompt apart, consecutive turns of one role merged. */
export function toAnthropic(messages: readonly ChatCompletionMessageParam[]): { system: string; messages: MessageParam[] } {
  const system: string[] = [];
  const out: Array<{ role: 'user' | 'assistant'; content: ContentBlockParam[] }> = [];
  const push = (role: 'user' | 'assistant', blocks: ContentBlockParam[]) => {
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const m of messages) {
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(text(m.content));
        break;
      case 'user':
        push('user', [{ type: 'text', text: text(m.content) }]);
        break;
      case 'assistant': {
        const blocks: ContentBlockParam[] = [];
        const t = text(m.content);
        if (t) blocks.push({ type: 'text', text: t });
        for (const c of m.tool_calls ?? []) {
          if (c.type !== 'function') continue;
          blocks.push({ type: 'tool_use', id: c.id, name: c.function.name, input: parseInput(c.function.arguments) });
        }
        push('assistant', blocks);
        break;
      }
      case 'tool':
        push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: text(m.content) }]);
        break;
      default:
        break;
    }
  }
  return { system: system.join('\n\n'), messages: out };
}

/** Anthropic wants the input as an object; arguments the model garbled are sent as an empty one. */
function parseInput(args: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(args || '{}');
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
