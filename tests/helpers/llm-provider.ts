// A local stand-in for an LLM provider at the edge of the world: a node:http server speaking the
// OpenAI Chat Completions streaming format (`data: {chat.completion.chunk}\n\n` … `data: [DONE]`),
// answering each request with the next scripted response. It can fail (any status, with
// `retry-after-ms`), send an error inside the stream, damage a chunk, cut a stream in the middle,
// pace chunks, or hold a stream open until the test releases it, and it records what it was asked
// and which streams the client abandoned.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Chunk = Record<string, unknown>;

/** Written to the stream as it is, not as an event: a damaged chunk. */
export class RawLine {
  constructor(readonly text: string) {}
}

export type Scripted =
  | { status: number; body?: unknown; retryAfterMs?: number }
  | {
      chunks: Array<Chunk | RawLine>;
      /** Written after the last chunk instead of the format's own end (`data: [DONE]` for OpenAI). */
      end?: string;
      /** Destroys the connection after this many chunks (a dropped stream). */
      cutAfter?: number;
      /** Waits for `release()` after this many chunks (a stream that is still going). */
      holdAfter?: number;
      /** Pause between chunks: a slow model. */
      everyMs?: number;
      /** `anthropic`: Messages API events (`event: <type>` lines, no `[DONE]`). Default: OpenAI chunks. */
      format?: 'openai' | 'anthropic';
    };

export interface ProviderRequest {
  body: {
    model: string;
    messages: Array<{ role: string; content: string | null; tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>; tool_call_id?: string }>;
    tools?: Array<{ type: string; function: { name: string; description: string; parameters: Record<string, unknown> } }>;
    stream?: boolean;
    stream_options?: unknown;
    /** Anthropic's request fields. */
    system?: string;
    max_tokens?: number;
  };
  authorization: string | undefined;
  path: string;
}

let n = 0;
const envelope = (choices: unknown[], extra: Record<string, unknown> = {}): Chunk => ({
  id: `chatcmpl-${++n}`,
  object: 'chat.completion.chunk',
  created: 1_764_000_000,
  model: 'fake',
  choices,
  ...extra,
});

/** Builders for the chunks a real provider sends. */
export const chunk = {
  role: (): Chunk => envelope([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
  text: (content: string): Chunk => envelope([{ index: 0, delta: { content }, finish_reason: null }]),
  reasoning: (text: string): Chunk => envelope([{ index: 0, delta: { reasoning_content: text }, finish_reason: null }]),
  /** A tool call whose arguments arrive in `pieces`, as providers stream them. */
  toolCall: (index: number, id: string, name: string, pieces: string[]): Chunk[] => [
    envelope([{ index: 0, delta: { tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] }, finish_reason: null }]),
    ...pieces.map((p) => envelope([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: p } }] }, finish_reason: null }])),
  ],
  finish: (reason: 'stop' | 'tool_calls'): Chunk => envelope([{ index: 0, delta: {}, finish_reason: reason }]),
  usage: (prompt: number, completion: number): Chunk =>
    envelope([], { usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } }),
  /** An error sent inside a stream that had started (HTTP 200), as OpenAI-compatible servers and proxies do. */
  error: (error: Record<string, unknown>): Chunk => ({ error }),
  /** A usage chunk cut off in the middle of its JSON. */
  damagedUsage: (): RawLine => new RawLine(`data: {"id":"chatcmpl-${++n}","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tok\n\n`),
};

/** The `[DONE]` line, damaged. */
export const DAMAGED_DONE = 'data: [DON\n\n';

/** A whole answer: `words` streamed one chunk each, then finish and usage. */
export function answer(words: string[], usage: [number, number] = [100, words.length]): Chunk[] {
  return [chunk.role(), ...words.map(chunk.text), chunk.finish('stop'), chunk.usage(...usage)];
}

/** A step that calls one tool, its arguments split in two pieces. */
export function callTool(id: string, name: string, args: unknown, usage: [number, number] = [100, 10]): Chunk[] {
  const json = JSON.stringify(args);
  const mid = Math.floor(json.length / 2);
  return [chunk.role(), ...chunk.toolCall(0, id, name, [json.slice(0, mid), json.slice(mid)]), chunk.finish('tool_calls'), chunk.usage(...usage)];
}

/** Builders for Anthropic Messages API stream events. */
export const anthropic = {
  start: (inputTokens: number): Chunk => ({
    type: 'message_start',
    message: { id: `msg_${++n}`, type: 'message', role: 'assistant', content: [], model: 'fake', stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1 } },
  }),
  textBlock: (index: number, pieces: string[]): Chunk[] => [
    { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
    ...pieces.map((text) => ({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } })),
    { type: 'content_block_stop', index },
  ],
  thinkingBlock: (index: number, thinking: string): Chunk[] => [
    { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } },
    { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking } },
    { type: 'content_block_stop', index },
  ],
  toolUse: (index: number, id: string, name: string, pieces: string[]): Chunk[] => [
    { type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } },
    ...pieces.map((partial_json) => ({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } })),
    { type: 'content_block_stop', index },
  ],
  end: (stopReason: 'end_turn' | 'tool_use', outputTokens: number): Chunk[] => [
    { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } },
    { type: 'message_stop' },
  ],
  /** An `event: error` inside a stream that had started. */
  error: (type: string, message: string): Chunk => ({ type: 'error', error: { type, message } }),
  /** A `message_stop` cut off in the middle of its JSON. */
  damagedStop: (): RawLine => new RawLine('event: message_stop\ndata: {"type":"message_st\n\n'),
};

export class FakeProvider {
  readonly requests: ProviderRequest[] = [];
  /** Streams the client closed before they ended (a cancelled run aborting its HTTP call). */
  abandoned = 0;
  /** When each chunk of the latest stream was handed to the socket (ms since the epoch), by index. */
  writtenAt: number[] = [];
  private readonly script: Scripted[] = [];
  private readonly server: Server;
  private releaseHold: (() => void) | undefined;
  private holding: { promise: Promise<void>; resolve: () => void } = deferred();
  private readonly open = new Set<ServerResponse>();
  url = '';

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  /** Answers a request when no scripted response is queued: a model whose reply follows from the conversation (the crash sweep's). */
  respond: ((body: ProviderRequest['body']) => Scripted) | undefined;

  /** Queues responses, one per request, in order. */
  enqueue(...responses: Scripted[]): void {
    this.script.push(...responses);
  }

  /** Resolves when a stream is held open at its `holdAfter` point. */
  held(): Promise<void> {
    return this.holding.promise;
  }

  release(): void {
    this.releaseHold?.();
  }

  get pending(): number {
    return this.script.length;
  }

  /** Forgets the responses no request took. */
  drop(): void {
    this.script.length = 0;
  }

  async stop(): Promise<void> {
    this.release();
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const part of req) raw += String(part);
    const body = JSON.parse(raw) as ProviderRequest['body'];
    this.requests.push({
      body,
      authorization: req.headers.authorization ?? (req.headers['x-api-key'] ? `x-api-key ${String(req.headers['x-api-key'])}` : undefined),
      path: req.url ?? '',
    });
    const next = this.script.shift() ?? this.respond?.(body) ?? { status: 500, body: { error: { message: 'the test scripted no response for this request' } } };
    if ('status' in next) {
      res.writeHead(next.status, {
        'content-type': 'application/json',
        ...(next.retryAfterMs !== undefined ? { 'retry-after-ms': String(next.retryAfterMs) } : {}),
      });
      res.end(JSON.stringify(next.body ?? { error: { message: `scripted ${next.status}`, type: 'fake' } }));
      return;
    }
    this.open.add(res);
    let finished = false;
    res.on('close', () => {
      this.open.delete(res);
      if (!finished) this.abandoned++;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    this.writtenAt = [];
    for (const [i, c] of next.chunks.entries()) {
      if (res.destroyed) return;
      if (next.cutAfter === i) {
        finished = true; // cut by the server, not abandoned by the client
        res.destroy();
        return;
      }
      if (next.holdAfter === i) {
        const released = new Promise<void>((r) => (this.releaseHold = r));
        this.holding.resolve();
        await released;
        this.holding = deferred();
        if (res.destroyed) return;
      }
      if (next.everyMs && i > 0) await new Promise((r) => setTimeout(r, next.everyMs));
      // Each chunk is handed to the socket before the next (and before a cut), as a real server's are.
      const line =
        c instanceof RawLine ? c.text : next.format === 'anthropic' ? `event: ${String(c.type)}\ndata: ${JSON.stringify(c)}\n\n` : `data: ${JSON.stringify(c)}\n\n`;
      await new Promise<void>((r) => res.write(line, () => r()));
      this.writtenAt[i] = Date.now();
    }
    finished = true;
    res.end(next.end ?? (next.format === 'anthropic' ? '' : 'data: [DONE]\n\n'));
  }
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
