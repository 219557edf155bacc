// An agent whose steps a language model decides, over the OpenAI Chat Completions wire format.
// Each step streams one model call: reasoning becomes `agent_thinking`, answer tokens
// `agent_output` (coalesced), tool calls `tool_executing`/`tool_completed` through the runtime,
// which validates, times and records them. The loop ends when the model answers without calling
// a tool, or fails at the step limit.
import type { ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { backoffMs, sleep } from '../../time/backoff.js';
import { costUsd } from '../pricing/index.js';
import { AgentFailure, ToolError, trailingOutput, type Agent, type AgentContext, type AgentResult, type PriorStep, type TokenUsage, type Tool } from '../types.js';
import { OutputCoalescer, type CoalesceOptions } from './coalesce.js';
import { estimateTokens, fitHistory } from './history.js';
import { StreamDropped, type ModelStream, type StreamedStep } from './provider.js';
import { parseAskArgs, subAgentSpec, toolSpec } from './tool-specs.js';
import { crashPoint } from '../../runs/crash-points.js';

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
      let answer = restore(prior, messages, total);
      // An answer the crash cut off: the first call continues it.
      let partial = trailingOutput(prior);

      try {
        // The run waited for its user's approval of this call, and got the answer: make the call
        // now (the stored answer is used, nothing is asked again); its result goes to the model.
        const last = prior[prior.length - 1];
        if (last?.kind === 'tool' && last.answered && !last.outcome) {
          messages.push({ role: 'tool', tool_call_id: last.toolCallId, content: await useTool(ctx, last.tool, JSON.stringify(last.args ?? {}), total) });
        }
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
                reasoning: (t) => {
                  out.push('thinking', t);
                  crashPoint('model.piece');
                },
                content: (t) => {
                  fresh += t;
                  out.push('output', t);
                  crashPoint('model.piece');
                },
              },
            ),
          (s) => s.usage,
        );
        if (step.usage) total.add(step.usage);
        else total.add(estimate(sent, { ...step, content: fresh.slice(before) }), true);
        return { ...step, content: fresh };
      } catch (err) {
        if (!(err instanceof StreamDropped) || ctx.signal.aborted) throw err;
        // A broken stream sends no usage, but its tokens were spent: estimate them.
        total.add(estimate(sent, { content: fresh.slice(before), toolCalls: [] }), true);
        // The message is one of StreamDropped's fixed phrases: never the provider's text.
        if (attempt >= o.streamRetries) throw new AgentFailure('model_unavailable', `the model stream broke off (${err.message}); try again`, true, { cause: err });
        // What was streamed stays streamed; the next call continues after it.
        partial = cutOff + fresh;
        const baseMs = o.retryBaseMs ?? 250;
        await sleep(backoffMs(attempt + 1, { baseMs, maxMs: baseMs * 2 ** 10 }), ctx.signal);
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
 *
 * The earlier attempt's model calls were paid for, but their usage died with it: each is added to
 * `total` as an estimate from what it stored (the conversation it was sent; its thinking, text and
 * tool calls), and a stored sub-agent answer adds the usage it reported. Not known, so not counted:
 * text a call streamed but had not stored yet, a call in flight that had stored nothing, retries
 * of broken streams, and the boundary between two calls that only called tools (they count as one).
 */
function restore(prior: readonly PriorStep[], messages: ChatMessageList, total: Usage): string {
  let answer = '';
  // The model call being read: its text, its thinking, its tool calls.
  let text = '';
  let thought = '';
  let calls: Array<Extract<PriorStep, { kind: 'tool' }>> = [];
  const close = () => {
    if (text === '' && thought === '' && calls.length === 0) return;
    const step: StreamedStep = { content: thought + text, toolCalls: calls.map((c) => ({ id: c.toolCallId, name: c.tool, arguments: JSON.stringify(c.args ?? {}) })) };
    total.add(estimate(messages, step), true);
    if (calls.length > 0) {
      messages.push({
        role: 'assistant',
        content: text || null,
        tool_calls: step.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
      });
      for (const c of calls) {
        // A call whose approval was answered, not made yet: the agent makes it and adds its result (run()).
        if (c.answered && !c.outcome) continue;
        const content = !c.outcome
          ? JSON.stringify({ error: INTERRUPTED_RESULT })
          : c.outcome.ok
            ? cap(subAgentAnswer(c.tool, c.outcome.result) ?? JSON.stringify(c.outcome.result))
            : JSON.stringify({ error: c.outcome.error });
        messages.push({ role: 'tool', tool_call_id: c.toolCallId, content });
        const sub = c.outcome?.ok ? subAgentUsage(c.tool, c.outcome.result) : undefined;
        // What the sub-agent reported is exact: its stored answer carries it.
        if (sub) total.addSub(sub);
      }
    }
    // A call cut off mid-answer (no tool calls) is continued by the first call of this attempt.
    calls = [];
    text = '';
    thought = '';
  };
  for (const s of prior) {
    if (s.kind === 'tool') calls.push(s);
    else {
      // Text after a tool call is the next model call's.
      if (calls.length > 0) close();
      if (s.kind === 'output') {
        answer += s.text;
        text += s.text;
      } else thought += s.text;
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

/** The usage a stored sub-agent answer reported, if it is well formed. */
function subAgentUsage(tool: string, result: unknown): TokenUsage | undefined {
  if (!tool.startsWith('ask_') || typeof result !== 'object' || result === null) return undefined;
  const u = (result as { usage?: unknown }).usage;
  if (typeof u !== 'object' || u === null) return undefined;
  const { inputTokens, outputTokens, costUsd, estimated } = u as Record<string, unknown>;
  if (!Number.isInteger(inputTokens) || !Number.isInteger(outputTokens)) return undefined;
  return {
    inputTokens: inputTokens as number,
    outputTokens: outputTokens as number,
    ...(typeof costUsd === 'number' ? { costUsd } : {}),
    ...(estimated === true ? { estimated } : {}),
  };
}

const cap = (s: string) => (s.length > MAX_TOOL_RESULT_CHARS ? `${s.slice(0, MAX_TOOL_RESULT_CHARS)}… (cut at ${MAX_TOOL_RESULT_CHARS} characters)` : s);

/**
 * The tokens of a call that reported no usage (some local servers; a stream cut off; a crashed
 * attempt's calls), estimated from its text, so a run's cost is never silently zero. Each message
 * counts its text and its tool calls.
 */
function estimate(sent: ChatMessageList, step: StreamedStep): { inputTokens: number; outputTokens: number } {
  const input = sent.reduce((n, m) => n + estimateTokens(messageText(m)), 0);
  const output = estimateTokens(step.content + step.toolCalls.map((c) => c.name + c.arguments).join(''));
  return { inputTokens: input, outputTokens: output };
}

function messageText(m: ChatCompletionMessageParam): string {
  const content = typeof m.content === 'string' ? m.content : m.content ? JSON.stringify(m.content) : '';
  const calls = m.role === 'assistant' ? (m.tool_calls ?? []).map((c) => (c.type === 'function' ? c.function.name + c.function.arguments : '')).join('') : '';
  return content + calls;
}

/** Tokens of every model call of the run (its sub-agents' included), priced with the shipped table. */
class Usage {
  private input = 0;
  private output = 0;
  private cost: number | undefined = 0;
  private calls = 0;
  private estimated = false;

  constructor(private readonly model: string) {}

  /** One model call's tokens; `estimated` when the provider did not report them. */
  add(u: { inputTokens: number; outputTokens: number }, estimated = false): void {
    this.calls++;
    this.input += u.inputTokens;
    this.output += u.outputTokens;
    this.estimated ||= estimated;
    const c = costUsd(this.model, u.inputTokens, u.outputTokens);
    this.cost = c === undefined || this.cost === undefined ? undefined : this.cost + c;
  }

  /** A sub-agent's whole usage, estimated if its own was. */
  addSub(u: TokenUsage): void {
    this.calls++;
    this.input += u.inputTokens;
    this.output += u.outputTokens;
    this.estimated ||= u.estimated === true;
    this.cost = u.costUsd === undefined || this.cost === undefined ? undefined : this.cost + u.costUsd;
  }

  result(): TokenUsage | undefined {
    if (this.calls === 0) return undefined;
    // A model missing from the price table (a local one) has no known cost: costUsd is left out.
    return {
      inputTokens: this.input,
      outputTokens: this.output,
      ...(this.cost !== undefined ? { costUsd: round6(this.cost) } : {}),
      ...(this.estimated ? { estimated: true } : {}),
    };
  }
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

export type { AgentResult };
