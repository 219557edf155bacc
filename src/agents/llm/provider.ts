// One streamed Chat Completions call (the OpenAI wire format, which Ollama, vLLM, llama.cpp's
// server, LM Studio, OpenRouter and others speak), read into what the agent needs: reasoning and
// answer text as they arrive, whole tool calls, token usage. The `openai` client retries 408, 409, 429, 5xx
// and refused connections itself, with backoff (honouring `retry-after`), before any byte of a
// stream has arrived; that is always safe. A stream that breaks off later, or goes silent for
// `idleMs`, is reported as `StreamDropped` for the agent to decide. Once the model has said its
// answer is finished (`finish_reason`), whatever happens to the rest of the stream (the usage
// chunk, `[DONE]`) cannot make the answer incomplete. No error leaving this module carries the
// provider's text (see errors.ts).
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionCreateParamsStreaming, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import type { Logger } from '../../log/logger.js';
import { AgentFailure } from '../types.js';
import { logProviderError, ProviderError, redactSecrets, refusesCredentials } from './errors.js';

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

/** The stream broke off or went silent after it had started, before the model finished its answer. */
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
  /** Gets the provider's error texts and the client library's own messages, at debug level, redacted. */
  log?: Logger;
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
    ...clientLogging(o),
  });
}

/**
 * The client libraries log to the console by default (a damaged chunk: "Could not parse message
 * into JSON" with the chunk). Their messages go to our log at debug level instead, redacted; every
 * failure they report also reaches us as an error.
 */
export function clientLogging(o: Pick<ProviderOptions, 'log' | 'apiKey'>): { logger: ClientLogger; logLevel: 'warn' | 'off' } {
  const log = o.log;
  const write = (...args: unknown[]) => {
    if (!log?.isLevelEnabled('debug')) return;
    const text = args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(' ');
    log.debug({ text: redactSecrets(text, [o.apiKey]).slice(0, 2000) }, 'model client says');
  };
  return { logger: { error: write, warn: write, info: write, debug: write }, logLevel: log ? 'warn' : 'off' };
}

type ClientLogger = Record<'error' | 'warn' | 'info' | 'debug', (...args: unknown[]) => void>;

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

/** Where a stream function reports the provider's own words (debug, redacted), and the key to redact. */
export interface StreamLogging {
  log?: Logger;
  apiKey?: string | undefined;
}

/**
 * The HTTP call's own abort: the run's signal, or silence past `idleMs` (a stream that stopped
 * sending without closing). Also decides what a failure of the call means.
 */
export class CallWatch {
  readonly controller = new AbortController();
  silent = false;
  private idle: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.controller.abort(this.signal.reason);

  constructor(
    private readonly signal: AbortSignal,
    private readonly idleMs: number,
    private readonly logging: StreamLogging = {},
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
   * and so does a connection closed cleanly mid-answer; neither is a finished answer, unless the
   * model had said it was finished (silence after that is only a missing usage chunk).
   */
  checkEnd(finished: boolean): void {
    if (this.signal.aborted) throw this.signal.reason;
    if (finished) return;
    if (this.silent) throw this.dropped();
    throw new StreamDropped('the stream ended before the model finished its answer');
  }

  /**
   * A failure of the call, once the model had said its answer was finished: the answer is whole,
   * whatever broke after it (a damaged usage chunk or `[DONE]`, a reset). Only the run's own abort
   * still counts. Returns whether the step may end normally.
   */
  finishedDespite(err: unknown, finished: boolean): boolean {
    if (!finished || this.signal.aborted) return false;
    logProviderError(this.logging.log, err, [this.logging.apiKey], 'the model stream failed after the model finished its answer; the answer is kept');
    return true;
  }

  /**
   * Maps a failure of the call: the run's abort; a refusal of the credentials (before or inside the
   * stream), never retried; before the stream, by HTTP status; once started, a drop. The provider's
   * text goes to the debug log only.
   */
  failure(err: unknown, started: boolean, status: number | undefined): unknown {
    if (err instanceof StreamDropped || err instanceof AgentFailure) return err;
    if (this.signal.aborted) return this.signal.reason;
    if (this.silent) return this.dropped();
    logProviderError(this.logging.log, err, [this.logging.apiKey], 'the model call failed');
    const cause = new ProviderError(err);
    if (refusesCredentials(err)) {
      const where = status === undefined ? 'in its stream' : `HTTP ${status}`;
      return new AgentFailure('model_failed', `the model provider refused the credentials (${where})`, false, { cause });
    }
    if (!started) return classifyStatus(status, cause);
    // The clients raise an error event of the stream as an APIError without a status, and a chunk
    // that is not JSON as the parser's SyntaxError.
    const why = isApiError(err) ? 'the provider reported an error in the stream' : err instanceof SyntaxError ? 'a chunk of the stream was damaged' : 'the connection failed';
    return new StreamDropped(why, { cause });
  }

  close(): void {
    if (this.idle) clearTimeout(this.idle);
    this.signal.removeEventListener('abort', this.onAbort);
  }
}

/** The clients' `APIError` (duck-typed: this module does not load the Anthropic client), which carries the body's error object. */
const isApiError = (err: unknown): boolean => err instanceof Error && 'status' in err && (err as { error?: unknown }).error !== undefined;

/** The OpenAI Chat Completions format. */
export const openAiStream =
  (client: OpenAI, logging: StreamLogging = {}): ModelStream =>
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
      logging,
    );

export async function streamStep(
  client: OpenAI,
  params: Omit<ChatCompletionCreateParamsStreaming, 'stream' | 'stream_options'>,
  signal: AbortSignal,
  idleMs: number,
  on: StreamHandlers,
  logging: StreamLogging = {},
): Promise<StreamedStep> {
  const watch = new CallWatch(signal, idleMs, logging);
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
      // OpenRouter ends a stream that failed with `finish_reason: "error"`: not a finished answer.
      const reason = chunk.choices[0]?.finish_reason as string | null | undefined;
      if (reason && reason !== 'error') finished = true;
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
    if (!watch.finishedDespite(err, finished)) throw watch.failure(err, started, err instanceof OpenAI.APIError ? err.status : undefined);
  } finally {
    watch.close();
  }
  const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([i, c]) => ({ ...c, id: c.id || `call_${i}` }));
  return { content, toolCalls, ...(usage ? { usage } : {}) };
}

/** A call that failed before its stream started, after the client's own retries, by HTTP status (undefined: no answer at all). */
export function classifyStatus(status: number | undefined, cause?: unknown): AgentFailure {
  const options = cause === undefined ? undefined : { cause };
  // No answer at all: connection refused, DNS, time-out before the headers.
  if (status === undefined) return new AgentFailure('model_unavailable', 'the model provider could not be reached', true, options);
  // The statuses the clients themselves retry (Anthropic's 529 "overloaded" is a 5xx): still
  // failing after the retries, still worth a later try.
  if (status === 408 || status === 409 || status === 429 || status >= 500)
    return new AgentFailure('model_unavailable', `the model provider is unavailable (HTTP ${status}); try again later`, true, options);
  if (status === 401 || status === 403) return new AgentFailure('model_failed', `the model provider refused the credentials (HTTP ${status})`, false, options);
  return new AgentFailure('model_failed', `the model provider refused the call (HTTP ${status})`, false, options);
}
