// An agent whose steps a language model decides, over the OpenAI Chat Completions wire format.
// Each step streams one model call: reasoning becomes `agent_thinking`, answer tokens
// `agent_output` (coalesced), tool calls `tool_executing`/`tool_completed` through the runtime,
// which validates, times and records them. The loop ends when the model answers without calling
// a tool, or fails at the step limit.
import type { ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { costUsd } from '../pricing/index.js';
import { AgentFailure, ToolError, type Agent, type AgentContext, type AgentResult, type PriorStep, type TokenUsage, type Tool } from '../types.js';
import { OutputCoalescer, type CoalesceOptions } from './coalesce.js';
import { estimateTokens, fitHistory } from './history.js';
import { StreamDropped, type ModelStream, type StreamedStep } from './provider.js';
import { parseAskArgs, subAgentSpec, toolSpec } from './tool-specs.js';

export interface LlmAgentOptions {
  name: string;
  description: string;
  /** The provider's wire format: `openAiStream(client)` or `anthropicStream(client)`. */
  stream: ModelStream;
  model: string;
  systemPrompt?: string;
  tools: readonly Tool[];
  /** Agents this one may hand tasks to, as tools named `ask_<name>`. */
  subAgents: ReadonlyArray<{ name: string; description: string }>;
  /** Model calls per run; past it the run fails with `step_limit`. */
  maxSteps: number;
  /** Estimated tokens of earlier thread messages sent as history. */
  historyTokens: number;
  /** Retries of a stream that broke off or went silent mid-answer. */
  streamRetries: number;
  streamIdleMs: number;
  /** First wait before retrying a broken stream; doubles each time. */
  retryBaseMs?: number;
  maxOutputTokens?: number;
  coalesce: CoalesceOptions;
}

/** Tool results longer than this are cut before they go back to the model (its context is finite). */
const MAX_TOOL_RESULT_CHARS = 16_000;

/**
 * Said to the model when its answer broke off (a dropped stream, or a crash of the worker): the
 * client has already been sent the start, so the answer must continue it, not restart.
 */
export const CONTINUE =
  'Your previous reply was cut off after the text above, which the user has already seen. Continue it exactly where it stopped, without repeating anything.';

export const INTERRUPTED_RESULT = 'interrupted: the worker running this call stopped before it answered; call it again if you still need it';

export function createLlmAgent(o: LlmAgentOptions): Agent {
  const specs: ChatCompletionTool[] = [...o.tools.map(toolSpec), ...o.subAgents.map((a) => subAgentSpec(a.name, a.description))];
  const subAgents = new Map(o.subAgents.map((a) => [`ask_${a.name}`, a.name]));

  return {
    name: o.name,
    description: o.description,
    // The runtime refuses (and records) a call to any other tool; `ask_<agent>` goes to callAgent.
    tools: o.tools.map((t) => t.name),
    async run(ctx) {
      const prior = await ctx.resume();
      const out = new OutputCoalescer((kind, text) => (kind === 'output' ? ctx.output(text) : ctx.think(text)), o.coalesce);
      const total = new Usage(o.model);
      const messages: ChatCompletionMessageParam[] = [
        ...(o.systemPrompt ? [{ role: 'system' as const, content: o.systemPrompt }] : []),
        ...fitHistory(ctx.history, o.historyTokens).map((m) => ({ role: m.role, content: m.content })),
        { role: 'user', content: ctx.input.text },
      ];
      // Everything streamed as output so far, this attempt and earlier ones: the answer.
      let answer = restore(prior, messages);
      // An answer the crash cut off: the first call continues it.
      let partial = trailingOutput(prior);

      try {
        for (let step = 0; step < o.maxSteps; step++) {
          const result = await callModel(ctx, out, messages, partial, total);
          answer += result.content;
          const content = partial + result.content;
          partial = '';
          await out.flush();
          if (result.toolCalls.length === 0) {
            const usage = total.result();
            return { text: answer, ...(usage ? { usage } : {}) };
          }
          const calls: ChatCompletionMessageFunctionToolCall[] = result.toolCalls.map((c) => ({
            id: c.id,
            type: 'function',
            function: { name: c.name, arguments: c.arguments },
          }));
          messages.push({ role: 'assistant', content: content || null, tool_calls: calls });
          // One at a time, in the model's order: each call's events form one pair in the run.
          for (const c of result.toolCalls) {
            messages.push({ role: 'tool', tool_call_id: c.id, content: await useTool(ctx, c.name, c.arguments, total) });
          }
        }
        throw new AgentFailure('step_limit', `the agent made ${o.maxSteps} model calls without answering`, false);
      } catch (err) {
        await out.discard();
        throw err;
      }
    },
  };

  /** One model step, its stream retried if it breaks off; a retry continues the text already sent. */
  async function callModel(ctx: AgentContext, out: OutputCoalescer, messages: ChatCompletionMessageParam[], cutOff: string, total: Usage): Promise<StreamedStep> {
    let partial = cutOff;
    let fresh = '';
    for (let attempt = 0; ; attempt++) {
      const before = fresh.length;
      const sent: ChatCompletionMessageParam[] = partial ? [...messages, { role: 'assistant', content: partial }, { role: 'user', content: CONTINUE }] : messages;
      try {
        const step = await ctx.modelCall(
          o.model,
          (signal) =>
            o.stream(
              { model: o.model, messages: sent, tools: specs, ...(o.maxOutputTokens ? { maxOutputTokens: o.maxOutputTokens } : {}) },
              signal,
              o.streamIdleMs,
              {
                reasoning: (t) => out.push('thinking', t),
                content: (t) => {
                  fresh += t;
                  out.push('output', t);
                },
              },
            ),
          (s) => s.usage,
        );
        total.add(step.usage ?? estimate(sent, step));
        return { ...step, content: fresh };
      } catch (err) {
        if (!(err instanceof StreamDropped) || ctx.signal.aborted) throw err;
        // A broken stream sends no usage, but its tokens were spent: estimate them.
        total.add(estimate(sent, { content: fresh.slice(before), toolCalls: [] }));
        if (attempt >= o.streamRetries) throw new AgentFailure('model_unavailable', `the model stream broke off (${err.message}); try again`, true);
        // What was streamed stays streamed; the next call continues after it.
        partial = cutOff + fresh;
        await sleep((o.retryBaseMs ?? 250) * 2 ** attempt, ctx.signal);
      }
    }
  }

  /** Runs one tool call through the runtime; what the model gets back, errors included (it can correct itself). */
  async function useTool(ctx: AgentContext, name: string, rawArgs: string, total: Usage): Promise<string> {
    let args: unknown;
    try {
      args = rawArgs.trim() === '' ? {} : JSON.parse(rawArgs);
    } catch {
      // Recorded like any invalid call: the tool's schema refuses a string.
      args = rawArgs;
    }
    try {
      const sub = subAgents.get(name);
      if (sub !== undefined) {
        const parsed = parseAskArgs(args);
        if (!parsed.success) return JSON.stringify({ error: `invalid arguments: ${parsed.error.issues.map((i) => i.message).join('; ')}` });
        const r = await ctx.callAgent(sub, parsed.data.task);
        if (r.usage) total.addSub(r.usage);
        return cap(r.text);
      }
      // A tool this agent was not given is refused by the runtime, which records the call as failed
      // ("no such tool"): the client sees it, and the model gets the error back.
      return cap(JSON.stringify(await ctx.callTool(name, args)));
    } catch (err) {
      if (err instanceof ToolError) return JSON.stringify({ error: err.message });
      throw err;
    }
  }
}

/**
 * Rebuilds the conversation from what an earlier attempt stored (a takeover after a crash): stored
 * tool results go back to the model as they were, so no tool is called again; the model call that
 * was in flight is made again. Returns the answer text already streamed.
 */
function restore(prior: readonly PriorStep[], messages: ChatMessageList): string {
  let answer = '';
  let text = '';
  let calls: Array<Extract<PriorStep, { kind: 'tool' }>> = [];
  const close = () => {
    if (calls.length === 0) return;
    messages.push({
      role: 'assistant',
      content: text || null,
      tool_calls: calls.map((c) => ({ id: c.toolCallId, type: 'function', function: { name: c.tool, arguments: JSON.stringify(c.args ?? {}) } })),
    });
    for (const c of calls) {
      const content = !c.outcome
        ? JSON.stringify({ error: INTERRUPTED_RESULT })
        : c.outcome.ok
          ? cap(subAgentAnswer(c.tool, c.outcome.result) ?? JSON.stringify(c.outcome.result))
          : JSON.stringify({ error: c.outcome.error });
      messages.push({ role: 'tool', tool_call_id: c.toolCallId, content });
    }
    calls = [];
    text = '';
  };
  for (const s of prior) {
    if (s.kind === 'tool') calls.push(s);
    else if (s.kind === 'output') {
      close();
      answer += s.text;
      text += s.text;
    }
  }
  close();
  return answer;
}

type ChatMessageList = ChatCompletionMessageParam[];

/** A stored sub-agent call's result is the sub-agent's whole answer; the model was given its text. */
function subAgentAnswer(tool: string, result: unknown): string | undefined {
  if (!tool.startsWith('ask_') || typeof result !== 'object' || result === null) return undefined;
  const text = (result as { text?: unknown }).text;
  return typeof text === 'string' ? text : undefined;
}

/** Output after the last tool call: an answer the crash cut off, to be continued. */
function trailingOutput(prior: readonly PriorStep[]): string {
  let t = '';
  for (const s of prior) {
    if (s.kind === 'tool') t = '';
    else if (s.kind === 'output') t += s.text;
  }
  return t;
}

const cap = (s: string) => (s.length > MAX_TOOL_RESULT_CHARS ? `${s.slice(0, MAX_TOOL_RESULT_CHARS)}… (cut at ${MAX_TOOL_RESULT_CHARS} characters)` : s);

/** Providers that report no usage (some local servers) are estimated, so a run's cost is never silently zero. */
function estimate(sent: ChatMessageList, step: StreamedStep): { inputTokens: number; outputTokens: number } {
  const input = sent.reduce((n, m) => n + estimateTokens(typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? '')), 0);
  const output = estimateTokens(step.content + step.toolCalls.map((c) => c.name + c.arguments).join(''));
  return { inputTokens: input, outputTokens: output };
}

/** Tokens of every model call of the run (its sub-agents' included), priced with the shipped table. */
class Usage {
  private input = 0;
  private output = 0;
  private cost: number | undefined = 0;
  private calls = 0;

  constructor(private readonly model: string) {}

  add(u: { inputTokens: number; outputTokens: number }): void {
    this.calls++;
    this.input += u.inputTokens;
    this.output += u.outputTokens;
    const c = costUsd(this.model, u.inputTokens, u.outputTokens);
    this.cost = c === undefined || this.cost === undefined ? undefined : this.cost + c;
  }

  addSub(u: TokenUsage): void {
    this.calls++;
    this.input += u.inputTokens;
    this.output += u.outputTokens;
    this.cost = u.costUsd === undefined || this.cost === undefined ? undefined : this.cost + u.costUsd;
  }

  result(): TokenUsage | undefined {
    if (this.calls === 0) return undefined;
    // A model missing from the price table (a local one) has no known cost: costUsd is left out.
    return { inputTokens: this.input, outputTokens: this.output, ...(this.cost !== undefined ? { costUsd: round6(this.cost) } : {}) };
  }
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export type { AgentResult };
