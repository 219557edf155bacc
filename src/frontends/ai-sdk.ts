// The fold from agentwire's stored run events to the AI SDK's UI message stream (protocol v1, as
// `ai` 5 and 6 read it). Pure and deterministic: every id is derived from the run id and a seq,
// so the same events give the same chunks whether folded live or replayed from any seq
// (docs/front-ends.md has the table).
import type { RunEvent } from '../protocol/events.js';

/** The chunks this fold makes: a subset of the AI SDK's `UIMessageChunk`. */
export type AiSdkChunk =
  | { type: 'start'; messageId: string; messageMetadata: AiSdkMetadata }
  | { type: 'start-step' }
  | { type: 'finish-step' }
  | { type: 'finish'; finishReason: 'stop' | 'error'; messageMetadata: AiSdkMetadata }
  | { type: 'abort'; reason: string }
  | { type: 'error'; errorText: string }
  | { type: 'text-start' | 'text-end' | 'reasoning-start' | 'reasoning-end'; id: string; providerMetadata?: ProviderMetadata }
  | { type: 'text-delta' | 'reasoning-delta'; id: string; delta: string; providerMetadata?: ProviderMetadata }
  | { type: 'tool-input-start'; toolCallId: string; toolName: string; dynamic: true }
  | { type: 'tool-input-available'; toolCallId: string; toolName: string; input: unknown; dynamic: true; providerMetadata?: ProviderMetadata }
  | { type: 'tool-output-available'; toolCallId: string; output: unknown; dynamic: true }
  | { type: 'tool-output-error'; toolCallId: string; errorText: string; dynamic: true }
  | { type: 'data-agentwire-error'; id: string; data: { code: string; message: string; retryable: boolean } };

type ProviderMetadata = { agentwire: { agent: string } };

/** What the message's metadata carries: always the run; on `finish`, its usage, data or error. */
export interface AiSdkMetadata {
  agentwire: {
    runId: string;
    threadId: string;
    /** The seq of the event that made this chunk. */
    seq: number;
    usage?: unknown;
    data?: unknown;
    error?: { code: string; retryable: boolean };
    cancelled?: { reason: string };
  };
}

/** The assistant message's id: one per run. */
export const aiSdkMessageId = (runId: string) => `aw-${runId}`;

const bySub = (agent: string | undefined): { providerMetadata?: ProviderMetadata } => (agent ? { providerMetadata: { agentwire: { agent } } } : {});

/**
 * Folds one run's events, in seq order, into chunks. `push` returns the chunks of one event;
 * an event folded before its predecessors is a caller bug (it throws).
 */
export class AiSdkFold {
  private lastSeq = 0;
  /** The open text part, if any. */
  private text: string | undefined;
  /** The open reasoning part and whose reasoning it is ('' for the run's own agent). */
  private reasoning: { id: string; agent: string } | undefined;
  private streamedText = false;
  ended = false;

  push(e: RunEvent): AiSdkChunk[] {
    if (e.seq !== this.lastSeq + 1) throw new Error(`AiSdkFold: seq ${e.seq} after ${this.lastSeq}`);
    this.lastSeq = e.seq;
    const out: AiSdkChunk[] = [];
    const meta = (extra: Partial<AiSdkMetadata['agentwire']> = {}): AiSdkMetadata => ({ agentwire: { runId: e.runId, threadId: e.threadId, seq: e.seq, ...extra } });
    switch (e.type) {
      case 'agent_started':
        out.push({ type: 'start', messageId: aiSdkMessageId(e.runId), messageMetadata: meta() }, { type: 'start-step' });
        break;
      case 'agent_thinking': {
        const agent = e.agent ?? '';
        this.closeText(out);
        if (this.reasoning && this.reasoning.agent !== agent) this.closeReasoning(out);
        if (!this.reasoning) {
          this.reasoning = { id: `r-${e.seq}`, agent };
          out.push({ type: 'reasoning-start', id: this.reasoning.id, ...bySub(e.agent) });
        }
        out.push({ type: 'reasoning-delta', id: this.reasoning.id, delta: e.text, ...bySub(e.agent) });
        break;
      }
      case 'agent_output':
        this.closeReasoning(out);
        if (!this.text) {
          this.text = `t-${e.seq}`;
          out.push({ type: 'text-start', id: this.text });
        }
        this.streamedText = true;
        out.push({ type: 'text-delta', id: this.text, delta: e.text });
        break;
      case 'tool_executing':
        this.closeAll(out);
        out.push(
          { type: 'tool-input-start', toolCallId: e.toolCallId, toolName: e.tool, dynamic: true },
          { type: 'tool-input-available', toolCallId: e.toolCallId, toolName: e.tool, input: e.args ?? {}, dynamic: true, ...bySub(e.agent) },
        );
        break;
      case 'tool_completed':
        this.closeAll(out);
        out.push(
          e.ok
            ? { type: 'tool-output-available', toolCallId: e.toolCallId, output: e.result ?? null, dynamic: true }
            : { type: 'tool-output-error', toolCallId: e.toolCallId, errorText: e.error ?? 'the tool failed', dynamic: true },
        );
        break;
      case 'agent_completed':
        this.closeAll(out);
        // An answer that was not streamed arrives whole, as one text part.
        if (!this.streamedText && e.text !== '') {
          const id = `t-${e.seq}`;
          out.push({ type: 'text-start', id }, { type: 'text-delta', id, delta: e.text }, { type: 'text-end', id });
        }
        out.push(
          { type: 'finish-step' },
          { type: 'finish', finishReason: 'stop', messageMetadata: meta({ ...(e.usage ? { usage: e.usage } : {}), ...(e.data !== undefined ? { data: e.data } : {}) }) },
        );
        this.ended = true;
        break;
      case 'agent_error':
        this.closeAll(out);
        out.push(
          { type: 'data-agentwire-error', id: 'error', data: { code: e.code, message: e.message, retryable: e.retryable } },
          { type: 'finish-step' },
          { type: 'error', errorText: e.message },
          { type: 'finish', finishReason: 'error', messageMetadata: meta({ error: { code: e.code, retryable: e.retryable } }) },
        );
        this.ended = true;
        break;
      case 'agent_cancelled':
        this.closeAll(out);
        out.push({ type: 'finish-step' }, { type: 'abort', reason: e.reason });
        this.ended = true;
        break;
    }
    return out;
  }

  private closeText(out: AiSdkChunk[]): void {
    if (this.text) out.push({ type: 'text-end', id: this.text });
    this.text = undefined;
  }

  private closeReasoning(out: AiSdkChunk[]): void {
    if (this.reasoning) out.push({ type: 'reasoning-end', id: this.reasoning.id, ...bySub(this.reasoning.agent || undefined) });
    this.reasoning = undefined;
  }

  private closeAll(out: AiSdkChunk[]): void {
    this.closeText(out);
    this.closeReasoning(out);
  }
}
