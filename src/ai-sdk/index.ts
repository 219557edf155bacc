// `agentwire/ai-sdk`: an agent written with the Vercel AI SDK (`ai`, a peer dependency) running on
// agentwire. One `streamText` loop per run: reasoning becomes `agent_thinking`, text
// `agent_output` (coalesced like the LLM agent's), and each tool call goes through
// `ctx.callTool`: validated, timed, stored and fenced by the runtime, and never made twice. A run
// taken over after its worker died does not replay the model (it would not answer twice the
// same): the adapter asks for what the earlier attempt stored (`ctx.resume()`), gives the model
// the stored tool results as they were, and continues an answer the crash cut off.
//
//   const agent = aiSdkAgent({ name: 'helper', description: '…', model: openai('gpt-4o-mini'), tools: [lookup] });
//   await createServer({ agents: [agent], tools: [lookup] });
import { APICallError, jsonSchema, stepCountIs, streamText, tool as aiTool, type LanguageModel, type ModelMessage, type ToolSet } from 'ai';
import { OutputCoalescer, type CoalesceOptions } from '../agents/llm/coalesce.js';
import { ProviderError } from '../agents/llm/errors.js';
import { fitHistory } from '../agents/llm/history.js';
import { toolSpec } from '../agents/llm/tool-specs.js';
import { AgentFailure, ToolError, trailingOutput, type Agent, type AgentContext, type PriorStep, type Tool } from '../agents/types.js';

/** The options of `streamText` the adapter leaves to you (temperature, providerOptions, maxRetries, headers …). */
export type StreamTextSettings = Omit<
  Parameters<typeof streamText>[0],
  'model' | 'tools' | 'system' | 'prompt' | 'messages' | 'abortSignal' | 'stopWhen' | 'onChunk' | 'onError' | 'onFinish' | 'onAbort' | 'onStepFinish'
>;

export interface AiSdkAgentOptions {
  name: string;
  description: string;
  /** Any AI SDK language model: `openai('gpt-4o-mini')`, `createOpenAICompatible({…})('llama3.2')`, … */
  model: LanguageModel;
  system?: string;
  /**
   * agentwire tools (`defineTool`) the model may call; register the same tools with `createServer`.
   * Each is offered to the model with its zod schema as JSON Schema; its arguments are validated
   * by the runtime, so an invalid call is recorded (and told to the model) like any other.
   */
  tools?: ReadonlyArray<Tool<unknown, unknown, never>>;
  /** Model steps per run (`stopWhen: stepCountIs(maxSteps)`); a run still calling tools after them fails with `step_limit`. */
  maxSteps?: number;
  /** Estimated tokens of earlier thread messages sent along (oldest dropped first). Default 4000. */
  historyTokens?: number;
  /** How answer pieces are gathered before they are stored and sent. Default: 50 ms or 400 characters. */
  coalesce?: CoalesceOptions;
  settings?: StreamTextSettings;
}

/** Said to the model when the answer it was giving broke off: the user has seen the start. */
export const CONTINUE =
  'Your previous reply was cut off after the text above, which the user has already seen. Continue it exactly where it stopped, without repeating anything.';
export const INTERRUPTED_RESULT = 'interrupted: the worker running this call stopped before it answered; call it again if you still need it';

/** Tool results longer than this are cut before they go back to the model. */
const MAX_TOOL_RESULT_CHARS = 16_000;

export function aiSdkAgent(o: AiSdkAgentOptions): Agent {
  const tools = o.tools ?? [];
  const maxSteps = o.maxSteps ?? 8;
  const modelId = typeof o.model === 'string' ? o.model : o.model.modelId;
  return {
    name: o.name,
    description: o.description,
    tools: tools.map((t) => t.name),
    async run(ctx) {
      const prior = await ctx.resume();
      const out = new OutputCoalescer((kind, text) => (kind === 'output' ? ctx.output(text) : ctx.think(text)), o.coalesce ?? { maxDelayMs: 50, maxChars: 400 });
      const messages: ModelMessage[] = [
        ...fitHistory(ctx.history, o.historyTokens ?? 4_000).map((m): ModelMessage => ({ role: m.role, content: m.content })),
        { role: 'user', content: ctx.input.text },
      ];
      // Everything streamed as output so far, this attempt and earlier ones: the answer.
      let answer = restore(prior, messages);
      const partial = trailingOutput(prior);
      if (partial) messages.push({ role: 'assistant', content: partial }, { role: 'user', content: CONTINUE });

      // A tool call's events must come after the text the model streamed before it: its
      // `execute` waits until this loop has read (and flushed) everything before the call.
      const reached = new Map<string, () => void>();
      const readUpTo = new Map<string, Promise<void>>();
      const waitFor = (id: string) => {
        let p = readUpTo.get(id);
        if (!p) readUpTo.set(id, (p = new Promise<void>((resolve) => reached.set(id, resolve))));
        return p;
      };

      const toolSet: ToolSet = Object.fromEntries(
        tools.map((t) => [
          t.name,
          aiTool({
            description: t.description,
            // No validation here: the runtime validates, and records an invalid call as failed.
            inputSchema: jsonSchema(toolSpec(t).function.parameters as Parameters<typeof jsonSchema>[0]),
            execute: async (input: unknown, { toolCallId }: { toolCallId: string }) => {
              await waitFor(toolCallId);
              await out.flush();
              return callTool(ctx, t.name, input);
            },
          }),
        ]),
      );

      try {
        const { finishReason, usage } = await ctx.modelCall(
          modelId,
          async (signal) => {
            const result = streamText({
              ...o.settings,
              model: o.model,
              ...(o.system ? { system: o.system } : {}),
              messages,
              ...(tools.length > 0 ? { tools: toolSet } : {}),
              stopWhen: stepCountIs(maxSteps),
              abortSignal: signal,
              // Errors come as `error` parts below; the SDK's default would print the provider's text to stderr.
              onError: () => undefined,
            });
            let finish: { finishReason: string; usage: { inputTokens: number | undefined; outputTokens: number | undefined } } | undefined;
            for await (const part of result.fullStream) {
              switch (part.type) {
                case 'reasoning-delta':
                  out.push('thinking', part.text);
                  break;
                case 'text-delta':
                  answer += part.text;
                  out.push('output', part.text);
                  break;
                case 'tool-call':
                  void waitFor(part.toolCallId);
                  reached.get(part.toolCallId)?.();
                  break;
                case 'error':
                  throw modelError(part.error);
                case 'abort':
                  signal.throwIfAborted();
                  break;
                case 'finish':
                  finish = { finishReason: part.finishReason, usage: part.totalUsage };
                  break;
              }
            }
            signal.throwIfAborted();
            return finish ?? { finishReason: 'unknown', usage: { inputTokens: undefined, outputTokens: undefined } };
          },
          (r) => (r.usage.inputTokens !== undefined && r.usage.outputTokens !== undefined ? { inputTokens: r.usage.inputTokens, outputTokens: r.usage.outputTokens } : undefined),
        );
        await out.flush();
        if (finishReason === 'tool-calls') throw new AgentFailure('step_limit', `the agent made ${maxSteps} model calls without answering`, false);
        const counted = usage.inputTokens !== undefined && usage.outputTokens !== undefined;
        return { text: answer, ...(counted ? { usage: { inputTokens: usage.inputTokens!, outputTokens: usage.outputTokens!, ...(prior.length > 0 ? { estimated: true } : {}) } } : {}) };
      } catch (err) {
        await out.discard();
        throw err;
      }
    },
  };
}

/** Through the runtime; what the model gets back, a failure included (it can correct itself). */
async function callTool(ctx: AgentContext, name: string, input: unknown): Promise<unknown> {
  try {
    return await ctx.callTool(name, input);
  } catch (err) {
    if (err instanceof ToolError) return { error: err.message };
    throw err;
  }
}

/** A provider's failure as the LLM agent reports it: fixed phrases, never the provider's text (it can quote a key). */
function modelError(err: unknown): Error {
  if (APICallError.isInstance(err)) {
    const status = err.statusCode;
    const transient = err.isRetryable || status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
    // The cause keeps the error's class, status and stack, never the provider's text.
    const cause = new ProviderError(err);
    return transient
      ? new AgentFailure('model_unavailable', `the model provider is unavailable (${status ?? 'no answer'}); try again`, true, { cause })
      : new AgentFailure('model_failed', `the model provider refused the call (${status})`, false, { cause });
  }
  return err instanceof Error ? err : new Error(String(err));
}

const cap = (value: unknown): unknown => {
  const json = JSON.stringify(value ?? null);
  return json.length > MAX_TOOL_RESULT_CHARS ? `${json.slice(0, MAX_TOOL_RESULT_CHARS)}… (cut)` : (value ?? null);
};

/**
 * Rebuilds the conversation from what an earlier attempt stored: its tool calls and their stored
 * results go back to the model as they were (no tool is called again); a call the crash left open
 * is told to the model as interrupted. Returns the answer text already streamed.
 */
function restore(prior: readonly PriorStep[], messages: ModelMessage[]): string {
  let answer = '';
  let text = '';
  let calls: Array<Extract<PriorStep, { kind: 'tool' }>> = [];
  const close = () => {
    if (calls.length === 0) return;
    messages.push({
      role: 'assistant',
      content: [...(text ? [{ type: 'text' as const, text }] : []), ...calls.map((c) => ({ type: 'tool-call' as const, toolCallId: c.toolCallId, toolName: c.tool, input: c.args ?? {} }))],
    });
    messages.push({
      role: 'tool',
      content: calls.map((c) => ({
        type: 'tool-result' as const,
        toolCallId: c.toolCallId,
        toolName: c.tool,
        output: !c.outcome
          ? { type: 'error-text' as const, value: INTERRUPTED_RESULT }
          : c.outcome.ok
            ? { type: 'json' as const, value: cap(c.outcome.result) as never }
            : { type: 'error-text' as const, value: c.outcome.error },
      })),
    });
    calls = [];
    text = '';
  };
  for (const s of prior) {
    if (s.kind === 'tool') calls.push(s);
    else if (s.kind === 'output') {
      // Text after a tool call belongs to the next model step.
      close();
      answer += s.text;
      text += s.text;
    }
  }
  close();
  return answer;
}

