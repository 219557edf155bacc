// One streamed Chat Completions call (the OpenAI wire format, which Ollama, vLLM, llama.cpp's
// server, LM Studio, OpenRouter and others speak), read into what the agent needs: reasoning and
// answer text as they arrive, whole tool calls, token usage. The `openai` client retries 408, 409, 429, 5xx
// and refused connections itself, with backoff (honouring `retry-after`), before any byte of a
// stream has arrived; that is always safe. A stream that breaks off later, or goes silent for
// `idleMs`, is reported as `StreamDropped` for the agent to decide.
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import { AgentFailure } from '../types.js';

export interface StreamedToolCall {
  id: string;
  name: string;
  /** The JSON text of the arguments, as the model wrote it (possibly invalid). */
  arguments: string;
}

export interface StreamedStep {
  content: string;
  toolCalls: StreamedToolCall[];
  usage?: { inputTokens: number; outputTokens: number };
}

export interface StreamHandlers {
  reasoning(text: string): void;
  content(text: string): void;
}

/** The stream broke off or went silent after it had started: what arrived is in `partial`. */
export class StreamDropped extends Error {
  override name = 'StreamDropped';
}

export interface ProviderOptions {
  baseURL: string;
  apiKey: string | undefined;
  /** Retries of a call that failed before its stream started (429, 5xx, connection refused). */
  maxRetries: number;
  /** Time to the response headers; the stream itself is watched by `idleMs`. */
  timeoutMs: number;
}

export function createClient(o: ProviderOptions): OpenAI {
  return new OpenAI({
    baseURL: o.baseURL,
    // Local servers (Ollama, llama.cpp) need no key, but the client insists on one. Passed
    // explicitly so the library never falls back to reading OPENAI_API_KEY from the environment.
    apiKey: o.apiKey ?? 'no-key',
    organization: null,
    project: null,
    maxRetries: o.maxRetries,
    timeout: o.timeoutMs,
  });
}

// Reasoning arrives under different names: `reasoning_content` (DeepSeek, vLLM, llama.cpp),
// `reasoning` (Ollama, OpenRouter). Neither is in the OpenAI types.
type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: unknown; reasoning?: unknown };

export async function streamStep(
  client: OpenAI,
  params: Omit<ChatCompletionCreateParamsStreaming, 'stream' | 'stream_options'>,
  signal: AbortSignal,
  idleMs: number,
  on: StreamHandlers,
): Promise<StreamedStep> {
  const call = new AbortController();
  const onAbort = () => call.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let idle: NodeJS.Timeout | undefined;
  let silent = false;
  const watch = () => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => {
      silent = true;
      call.abort(new StreamDropped(`no data from the model for ${idleMs} ms`));
    }, idleMs);
  };
  const calls = new Map<number, StreamedToolCall>();
  let content = '';
  let usage: StreamedStep['usage'];
  let started = false;
  let finished = false;
  try {
    const stream = await client.chat.completions.create(
      { ...params, stream: true, stream_options: { include_usage: true } },
      { signal: call.signal },
    );
    started = true;
    watch();
    for await (const chunk of stream) {
      watch();
      if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
      if (chunk.choices[0]?.finish_reason) finished = true;
      const delta = chunk.choices[0]?.delta as Delta | undefined;
      if (!delta) continue;
      const reasoning = typeof delta.reasoning_content === 'string' ? delta.reasoning_content : typeof delta.reasoning === 'string' ? delta.reasoning : '';
      if (reasoning) on.reasoning(reasoning);
      if (delta.content) {
        content += delta.content;
        on.content(delta.content);
      }
      for (const t of delta.tool_calls ?? []) {
        const c = calls.get(t.index) ?? { id: '', name: '', arguments: '' };
        if (t.id) c.id = t.id;
        if (t.function?.name) c.name += t.function.name;
        if (t.function?.arguments) c.arguments += t.function.arguments;
        calls.set(t.index, c);
      }
    }
    // The client ends its iteration quietly when the call is aborted, and so does a connection
    // closed cleanly mid-answer: neither is a finished answer.
    if (signal.aborted) throw signal.reason;
    if (silent) throw new StreamDropped(`no data from the model for ${idleMs} ms`);
    if (!finished) throw new StreamDropped('the stream ended before the model finished its answer');
  } catch (err) {
    if (err instanceof StreamDropped) throw err;
    if (signal.aborted) throw signal.reason;
    if (silent) throw new StreamDropped(`no data from the model for ${idleMs} ms`);
    if (!started) throw classify(err);
    throw new StreamDropped(err instanceof Error ? err.message : 'the model stream broke off');
  } finally {
    if (idle) clearTimeout(idle);
    signal.removeEventListener('abort', onAbort);
  }
  const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([i, c]) => ({ ...c, id: c.id || `call_${i}` }));
  return { content, toolCalls, ...(usage ? { usage } : {}) };
}

/** A call that failed before its stream started, after the client's own retries. */
function classify(err: unknown): AgentFailure {
  if (err instanceof OpenAI.APIError && err.status !== undefined) {
    const status = err.status;
    // The statuses the client itself retries: still failing after the retries, still worth a later try.
    if (status === 408 || status === 409 || status === 429 || status >= 500)
      return new AgentFailure('model_unavailable', `the model provider is unavailable (HTTP ${status}); try again later`, true);
    return new AgentFailure('model_failed', `the model provider refused the call (HTTP ${status})`, false);
  }
  // No answer at all: connection refused, DNS, time-out before the headers.
  return new AgentFailure('model_unavailable', 'the model provider could not be reached', true);
}
