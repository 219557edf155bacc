// The fold from agentwire's stored run events to AG-UI events, readable by @ag-ui/client 1.0.0
// and 0.0.59 (the version CopilotKit pins). Pure and deterministic: message ids are derived from
// the run id and a seq, so live and replayed events agree (docs/front-ends.md has the table).
// Every event carries `metadata.agentwire.seq`; 1.0 strips unknown top-level fields, so nothing
// else is added at the top level.
import type { RunEvent } from '../protocol/events.js';

export interface AgUiEvent {
  type: string;
  metadata: { agentwire: { runId: string; seq: number; [k: string]: unknown } };
  [field: string]: unknown;
}

/** A message of AG-UI's `MESSAGES_SNAPSHOT` (the roles both client versions know). */
export type AgUiMessage =
  | { id: string; role: 'user'; content: string }
  | { id: string; role: 'assistant'; content?: string; toolCalls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }> }
  | { id: string; role: 'tool'; toolCallId: string; content: string };

export interface AgUiFoldOptions {
  /** The client's ids, as it sent them in RunAgentInput. */
  threadId: string;
  runId: string;
  /** The client sent `protocolVersion` (1.0): a cancel is `RUN_FINISHED {outcome: cancelled}`; else `RUN_ERROR {code: "cancelled"}` (0.0.59 refuses the outcome). */
  cancelledOutcome: boolean;
}

const toolContent = (e: Extract<RunEvent, { type: 'tool_completed' }>): string =>
  e.ok ? (typeof e.result === 'string' ? e.result : JSON.stringify(e.result ?? null)) : JSON.stringify({ error: e.error ?? 'the tool failed' });

export class AgUiFold {
  private lastSeq = 0;
  private awRunId = '';
  private text: { id: string; content: string } | undefined;
  private reasoning: { id: string; agent: string; content: string } | undefined;
  private streamedText = false;
  /** The run's messages so far, for a join's MESSAGES_SNAPSHOT (the open text message excluded). */
  readonly messages: AgUiMessage[] = [];
  ended = false;

  constructor(private readonly o: AgUiFoldOptions) {}

  private ev(seq: number, type: string, fields: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): AgUiEvent {
    return { type, ...fields, metadata: { agentwire: { runId: this.awRunId, seq, ...extra } } };
  }

  push(e: RunEvent): AgUiEvent[] {
    if (e.seq !== this.lastSeq + 1) throw new Error(`AgUiFold: seq ${e.seq} after ${this.lastSeq}`);
    this.lastSeq = e.seq;
    this.awRunId = e.runId;
    const out: AgUiEvent[] = [];
    const ids = { threadId: this.o.threadId, runId: this.o.runId };
    const sub = 'agent' in e && e.agent ? { agent: e.agent } : {};
    switch (e.type) {
      case 'agent_started':
        out.push(this.ev(e.seq, 'RUN_STARTED', ids, { threadId: e.threadId, agent: e.agent }));
        break;
      case 'agent_thinking': {
        const agent = e.agent ?? '';
        this.closeText(out, e.seq);
        if (this.reasoning && this.reasoning.agent !== agent) this.closeReasoning(out, e.seq);
        if (!this.reasoning) {
          this.reasoning = { id: `aw-${e.runId}-r${e.seq}`, agent, content: '' };
          out.push(this.ev(e.seq, 'REASONING_START', { messageId: this.reasoning.id }, sub));
          out.push(this.ev(e.seq, 'REASONING_MESSAGE_START', { messageId: this.reasoning.id, role: 'reasoning' }, sub));
        }
        this.reasoning.content += e.text;
        out.push(this.ev(e.seq, 'REASONING_MESSAGE_CONTENT', { messageId: this.reasoning.id, delta: e.text }, sub));
        break;
      }
      case 'agent_output':
        this.closeReasoning(out, e.seq);
        if (!this.text) {
          this.text = { id: `aw-${e.runId}-t${e.seq}`, content: '' };
          out.push(this.ev(e.seq, 'TEXT_MESSAGE_START', { messageId: this.text.id, role: 'assistant' }));
        }
        this.streamedText = true;
        this.text.content += e.text;
        out.push(this.ev(e.seq, 'TEXT_MESSAGE_CONTENT', { messageId: this.text.id, delta: e.text }));
        break;
      case 'tool_executing': {
        this.closeAll(out, e.seq);
        const args = JSON.stringify(e.args ?? {});
        out.push(
          this.ev(e.seq, 'TOOL_CALL_START', { toolCallId: e.toolCallId, toolCallName: e.tool }, sub),
          this.ev(e.seq, 'TOOL_CALL_ARGS', { toolCallId: e.toolCallId, delta: args }, sub),
          this.ev(e.seq, 'TOOL_CALL_END', { toolCallId: e.toolCallId }, sub),
        );
        // The client files a call without parentMessageId under an assistant message named after the call.
        this.messages.push({ id: e.toolCallId, role: 'assistant', toolCalls: [{ id: e.toolCallId, type: 'function', function: { name: e.tool, arguments: args } }] });
        break;
      }
      case 'tool_completed': {
        this.closeAll(out, e.seq);
        const content = toolContent(e);
        const messageId = `aw-${e.runId}-tr${e.seq}`;
        out.push(this.ev(e.seq, 'TOOL_CALL_RESULT', { messageId, toolCallId: e.toolCallId, content, role: 'tool' }, { ok: e.ok, ...sub }));
        this.messages.push({ id: messageId, role: 'tool', toolCallId: e.toolCallId, content });
        break;
      }
      case 'agent_completed': {
        this.closeAll(out, e.seq);
        if (!this.streamedText && e.text !== '') {
          const id = `aw-${e.runId}-t${e.seq}`;
          out.push(
            this.ev(e.seq, 'TEXT_MESSAGE_START', { messageId: id, role: 'assistant' }),
            this.ev(e.seq, 'TEXT_MESSAGE_CONTENT', { messageId: id, delta: e.text }),
            this.ev(e.seq, 'TEXT_MESSAGE_END', { messageId: id }),
          );
          this.messages.push({ id, role: 'assistant', content: e.text });
        }
        const usage = e.usage ? { usage: [{ inputTokens: e.usage.inputTokens, outputTokens: e.usage.outputTokens, totalTokens: e.usage.inputTokens + e.usage.outputTokens }] } : {};
        out.push(
          this.ev(
            e.seq,
            'RUN_FINISHED',
            { ...ids, result: { text: e.text, ...(e.data !== undefined ? { data: e.data } : {}) }, outcome: { type: 'success' }, ...usage },
            e.usage ? { usage: e.usage } : {},
          ),
        );
        this.ended = true;
        break;
      }
      case 'agent_error':
        this.closeAll(out, e.seq);
        out.push(this.ev(e.seq, 'RUN_ERROR', { message: e.message, code: e.code }, { retryable: e.retryable }));
        this.ended = true;
        break;
      case 'agent_cancelled':
        this.closeAll(out, e.seq);
        out.push(
          this.o.cancelledOutcome
            ? this.ev(e.seq, 'RUN_FINISHED', { ...ids, outcome: { type: 'cancelled' } }, { reason: e.reason })
            : this.ev(e.seq, 'RUN_ERROR', { message: e.reason, code: 'cancelled' }, { retryable: false }),
        );
        this.ended = true;
        break;
    }
    return out;
  }

  /**
   * A join's re-openings: what is still open after the events folded so far, started again, with
   * what it held. The open text message is not in `messages` (a snapshot holding it would make
   * 0.0.59 keep two copies once it is started again), so its content so far comes here.
   */
  reopen(seq: number): AgUiEvent[] {
    const out: AgUiEvent[] = [];
    if (this.reasoning) {
      const sub = this.reasoning.agent ? { agent: this.reasoning.agent } : {};
      out.push(
        this.ev(seq, 'REASONING_START', { messageId: this.reasoning.id }, sub),
        this.ev(seq, 'REASONING_MESSAGE_START', { messageId: this.reasoning.id, role: 'reasoning' }, sub),
      );
      if (this.reasoning.content) out.push(this.ev(seq, 'REASONING_MESSAGE_CONTENT', { messageId: this.reasoning.id, delta: this.reasoning.content }, sub));
    }
    if (this.text) {
      out.push(this.ev(seq, 'TEXT_MESSAGE_START', { messageId: this.text.id, role: 'assistant' }));
      if (this.text.content) out.push(this.ev(seq, 'TEXT_MESSAGE_CONTENT', { messageId: this.text.id, delta: this.text.content }));
    }
    return out;
  }

  /** A `RUN_STARTED` of a join (the run's own was sent to the first connection). */
  runStarted(seq: number, awRunId: string): AgUiEvent {
    this.awRunId ||= awRunId;
    return this.ev(seq, 'RUN_STARTED', { threadId: this.o.threadId, runId: this.o.runId }, { join: true });
  }

  snapshotEvent(seq: number, earlier: AgUiMessage[]): AgUiEvent {
    return this.ev(seq, 'MESSAGES_SNAPSHOT', { messages: [...earlier, ...this.messages] });
  }

  private closeText(out: AgUiEvent[], seq: number): void {
    if (!this.text) return;
    out.push(this.ev(seq, 'TEXT_MESSAGE_END', { messageId: this.text.id }));
    this.messages.push({ id: this.text.id, role: 'assistant', content: this.text.content });
    this.text = undefined;
  }

  private closeReasoning(out: AgUiEvent[], seq: number): void {
    if (!this.reasoning) return;
    const sub = this.reasoning.agent ? { agent: this.reasoning.agent } : {};
    out.push(this.ev(seq, 'REASONING_MESSAGE_END', { messageId: this.reasoning.id }, sub), this.ev(seq, 'REASONING_END', { messageId: this.reasoning.id }, sub));
    this.reasoning = undefined;
  }

  private closeAll(out: AgUiEvent[], seq: number): void {
    this.closeText(out, seq);
    this.closeReasoning(out, seq);
  }
}
