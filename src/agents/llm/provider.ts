// One streamed Chat Completions call (the OpenAI wire format, which Ollama, vLLM, llama.cpp's
// server, LM Studio, OpenRouter and others speak), read into what the agent needs: reasoning and
// answer text as they arrive, whole tool calls, token usage. The `openai` client retries 408, 409, 429, 5xx
// and refused connections itself, with backoff (honouring `retry-after`), before any byte of a
// stream has arrived; that is always safe. A stream that breaks off later, or goes silent for
// `idleMs`, is reported as `StreamDropped` for the agent to decide.
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionCreateParamsStreaming, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
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

/** What the agent asks of one step, whichever wire format carries it (OpenAI's message shapes). */
export interface ModelRequest {
  model: string;
  messages: ChatCompletionMessageParam[];
  tools: ChatCompletionTool[];
  maxOutputTokens?: number;
}

/** One streamed model call over some provider's wire format. */
export type ModelStream = (req: ModelRequest, signal: AbortSignal, idleMs: number, on: StreamHandlers) => Promise<StreamedStep>;

/**
 * The HTTP call's own abort: the run's signal, or silence past `idleMs` (a stream that stopped
 * sending without closing).
 */
export class CallWatch {
  readonly controller = new AbortController();
  silent = false;
  private idle: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.controller.abort(this.signal.reason);

  constructor(
    private readonly signal: AbortSignal,
    private readonly idleMs: number,
  ) {
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Restarts the silence timer: call on every piece of the stream. */
  alive(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.silent = true;
      this.controller.abort(this.dropped());
    }, this.idleMs);
  }

  dropped(): StreamDropped {
    return new StreamDropped(`no data from the model for ${this.idleMs} ms`);
  }

  /**
   * After the stream's loop: the clients end their iteration quietly when the call is aborted,
   * and so does a connection closed cleanly mid-answer; neither is a finished answer.
   */
  checkEnd(finished: boolean): void {
    if (this.signal.aborted) throw this.signal.reason;
    if (this.silent) throw this.dropped();
    if (!finished) throw new StreamDropped('the stream ended before the model finished its answer');
  }

  /** Maps a failure of the call: the run's abort, a drop once started, else `classify`. */
  failure(err: unknown, started: boolean, classify: (err: unknown) => AgentFailure): unknown {
    if (err instanceof StreamDropped) return err;
    if (this.signal.aborted) return this.signal.reason;
    if (this.silent) return this.dropped();
    if (!started) return classify(err);
    return new StreamDropped(err instanceof Error ? err.message : 'the model stream broke off');
  }

  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.signal.removeEventListener('abort', this.onAbort);
  }
}

/** The OpenAI Chat Completions format. */
export const openAiStream =
  (client: OpenAI): ModelStream =>
  (req, signal, idleMs, on) =>
    streamStep(
      client,
      {
        model: req.model,
        messages: req.messages,
        ...(req.tools.length > 0 ? { tools: req.tools } : {}),
        ...(req.maxOutputTokens ? { max_completion_tokens: req.maxOutputTokens } : {}),
      },
      signal,
      idleMs,
      on,
    );

export async function streamStep(
  client: OpenAI,
  params: Omit<ChatCompletionCreateParamsStreaming, 'stream' | 'stream_options'>,
  signal: AbortSignal,
  idleMs: number,
  on: StreamHandlers,
): Promise<StreamedStep> {
  const watch = new CallWatch(signal, idleMs);
  const calls = new Map<number, StreamedToolCall>();
  let content = '';
  let usage: StreamedStep['usage'];
  let started = false;
  let finished = false;
  try {
    const stream = await client.chat.completions.create(
      { ...params, stream: true, stream_options: { include_usage: true } },
      { signal: watch.controller.signal },
    );
    started = true;
    watch.alive();
    for await (const chunk of stream) {
      watch.alive();
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
    watch.checkEnd(finished);
  } catch (err) {
    throw watch.failure(err, started, classify);
  } finally {
    watch.close();
  }
  const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([i, c]) => ({ ...c, id: c.id || `call_${i}` }));
  return { content, toolCalls, ...(usage ? { usage } : {}) };
}

/** A call that failed before its stream started, after the client's own retries. */
function classify(err: unknown): AgentFailure {
  return classifyStatus(err instanceof OpenAI.APIError ? err.status : undefined);
}

/** By HTTP status (undefined: no answer at all). */
export function classifyStatus(status: number | undefined): AgentFailure {
  // No answer at all: connection refused, DNS, time-out before the headers.
  if (status === undefined) return new AgentFailure('model_unavailable', 'the model provider could not be reached', true);
  // The statuses the clients themselves retry (Anthropic's 529 "overloaded" is a 5xx): still
  // failing after the retries, still worth a later try.
  if (status === 408 || status === 409 || status === 429 || status >= 500)
    return new AgentFailure('model_unavailable', `the model provider is unavailable (HTTP ${status}); try again later`, true);
  return new AgentFailure('model_failed', `the model provider refused the call (HTTP ${status})`, false);
}
