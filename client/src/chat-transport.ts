// A chat transport for the AI SDK's `useChat` that survives what the stock one does not: when
// the answer's stream breaks off (a dropped connection, a gateway or worker that died), it
// reconnects by itself and asks only for what it missed, by seq (`GET …/stream?runId&afterSeq`),
// so the chat's one assistant message simply continues. Types only from `ai` (an optional peer);
// no runtime dependency, like the rest of `agentwire/client`.
import type { ChatTransport, UIMessage, UIMessageChunk } from 'ai';

export interface AgentwireChatTransportOptions {
  /** The chat route: `https://host/v1/ai-sdk/chat`. */
  api: string;
  /** A bearer token, or a function giving a fresh one (called for every request). */
  token?: string | (() => string | Promise<string>);
  /** More headers for every request. */
  headers?: Record<string, string>;
  /** More fields for the POST body (e.g. `{ agent: 'analyst' }`). */
  body?: Record<string, unknown>;
  /** Reconnects in a row without progress before the stream fails (default 8). */
  maxReconnects?: number;
  /** Backoff between reconnects: min(maxDelayMs, minDelayMs · 2^attempt), full jitter. */
  minDelayMs?: number;
  maxDelayMs?: number;
  fetch?: typeof fetch;
}

interface SseMessage {
  id?: string;
  data: string;
}

/**
 * SSE messages of a body. Hand-written (a few lines): the client has no dependencies, and the
 * server's framing is fixed (`id:`/`data:` lines, `\n\n` between messages).
 */
async function* sseMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const msg: SseMessage = { data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
          else if (line.startsWith('id:')) msg.id = line.slice(3).trim();
        }
        if (data.length === 0) continue;
        msg.data = data.join('\n');
        yield msg;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export class AgentwireChatTransport<M extends UIMessage = UIMessage> implements ChatTransport<M> {
  private readonly fetch: typeof fetch;

  constructor(private readonly o: AgentwireChatTransportOptions) {
    this.fetch = o.fetch ?? ((...args) => globalThis.fetch(...args));
  }

  private async headers(extra?: Record<string, string> | Headers): Promise<Record<string, string>> {
    const token = typeof this.o.token === 'function' ? await this.o.token() : this.o.token;
    const given = extra instanceof Headers ? Object.fromEntries(extra.entries()) : (extra ?? {});
    return { ...(this.o.headers ?? {}), ...given, ...(token ? { authorization: `Bearer ${token}` } : {}) };
  }

  async sendMessages(options: Parameters<ChatTransport<M>['sendMessages']>[0]): Promise<ReadableStream<UIMessageChunk>> {
    const res = await this.fetch(this.o.api, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await this.headers(options.headers)) },
      body: JSON.stringify({ ...(this.o.body ?? {}), ...(options.body ?? {}), id: options.chatId, messages: options.messages, trigger: options.trigger, messageId: options.messageId }),
      ...(options.abortSignal ? { signal: options.abortSignal } : {}),
    });
    if (!res.ok || !res.body) throw new Error(`agentwire chat: ${res.status} ${await res.text()}`);
    return this.follow(options.chatId, res, options.abortSignal);
  }

  /** `useChat({ resume: true })`: the chat's active run from its start, or null when none runs. */
  async reconnectToStream(options: Parameters<ChatTransport<M>['reconnectToStream']>[0]): Promise<ReadableStream<UIMessageChunk> | null> {
    const res = await this.fetch(`${this.o.api}/${encodeURIComponent(options.chatId)}/stream`, { headers: await this.headers(options.headers) });
    if (res.status === 204) return null;
    if (!res.ok || !res.body) throw new Error(`agentwire chat: ${res.status} ${await res.text()}`);
    return this.follow(options.chatId, res, undefined);
  }

  /** The chunks of one run's answer, across as many connections as it takes. */
  private follow(chatId: string, first: Response, signal: AbortSignal | undefined): ReadableStream<UIMessageChunk> {
    let runId: string | undefined;
    let afterSeq = 0;
    let current: Response | undefined = first;
    const max = this.o.maxReconnects ?? 8;
    const minDelay = this.o.minDelayMs ?? 100;
    const maxDelay = this.o.maxDelayMs ?? 5_000;
    return new ReadableStream<UIMessageChunk>({
      start: async (controller) => {
        let failures = 0;
        for (;;) {
          // The chunks of one event arrive together; only the last carries the event's seq as
          // `id:`. They are passed on once it arrived, so a break never splits an event.
          let group: UIMessageChunk[] = [];
          try {
            if (current?.body) {
              for await (const msg of sseMessages(current.body)) {
                if (msg.data === '[DONE]') {
                  controller.close();
                  return;
                }
                const chunk = JSON.parse(msg.data) as UIMessageChunk;
                if (chunk.type === 'start') runId ??= (chunk.messageMetadata as { agentwire?: { runId?: string } } | undefined)?.agentwire?.runId;
                group.push(chunk);
                if (msg.id !== undefined) {
                  afterSeq = Number(msg.id);
                  for (const c of group) controller.enqueue(c);
                  group = [];
                  failures = 0;
                }
              }
            }
          } catch (err) {
            if (signal?.aborted) {
              controller.error(err);
              return;
            }
          }
          // Broken off before the end: ask for the rest.
          if (signal?.aborted) {
            controller.error(signal.reason);
            return;
          }
          if (++failures > max) {
            controller.error(new Error(`agentwire chat: the stream broke off ${max} times in a row`));
            return;
          }
          const ceiling = Math.min(maxDelay, minDelay * 2 ** (failures - 1));
          await new Promise((r) => setTimeout(r, ceiling / 2 + Math.random() * (ceiling / 2)));
          const q = runId ? `?runId=${encodeURIComponent(runId)}&afterSeq=${afterSeq}` : '';
          try {
            current = await this.fetch(`${this.o.api}/${encodeURIComponent(chatId)}/stream${q}`, {
              headers: await this.headers(),
              ...(signal ? { signal } : {}),
            });
          } catch {
            current = undefined; // unreachable for now: try again
            continue;
          }
          if (current.status === 204) {
            // No run was named (the first connection broke before its start) and none is active.
            controller.close();
            return;
          }
          if (current.status >= 400 && current.status < 500 && current.status !== 408 && current.status !== 429) {
            controller.error(new Error(`agentwire chat: ${current.status} ${await current.text()}`));
            return;
          }
          if (!current.ok) current = undefined;
        }
      },
    });
  }
}
