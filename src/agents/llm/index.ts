// The configured LLM agent: one model behind an OpenAI-compatible endpoint, with the analyst's
// tools and the analyst itself as a sub-agent.
import type { LlmSettings as ConfigLlmSettings } from '../../config/options.js';
import type { Logger } from '../../log/logger.js';
import type { Agent, Tool } from '../types.js';
import { createLlmAgent, type LlmAgentOptions } from './agent.js';
import { anthropicStream, createAnthropicClient } from './anthropic.js';
import { createClient, openAiStream } from './provider.js';

export { createLlmAgent, CONTINUE, INTERRUPTED_RESULT, type LlmAgentOptions } from './agent.js';
export { createClient, openAiStream, type ModelStream, type ProviderOptions, type StreamLogging } from './provider.js';
export { redactSecrets } from './errors.js';
export { anthropicStream, createAnthropicClient } from './anthropic.js';
export { OutputCoalescer, type CoalesceOptions } from './coalesce.js';
export { fitHistory, estimateTokens } from './history.js';
export { toolSpec } from './tool-specs.js';

/** What the LLM agent reads of its settings (`llm` of the options schema, src/config/options.ts). */
export type LlmSettings = Pick<
  ConfigLlmSettings,
  'provider' | 'baseUrl' | 'apiKey' | 'model' | 'name' | 'systemPrompt' | 'maxSteps' | 'historyTokens' | 'maxOutputTokens' | 'maxRetries' | 'timeoutMs' | 'streamIdleMs' | 'flushMs' | 'flushChars'
>;

export const DEFAULT_SYSTEM_PROMPT =
  "You are agentwire's assistant. Answer clearly and concisely in Markdown. For questions about the user's AI model spend, " +
  'use the tools: usage_summary reads their usage records, pricing_lookup gives model prices and cheaper alternatives, ' +
  'cost_projection projects monthly costs and savings; or hand the whole question to the analyst agent with ask_analyst. ' +
  'Never invent numbers that a tool can give you.';

/** `log` gets the provider's error texts at debug level, redacted (see errors.ts). */
export function llmAgentFromSettings(s: LlmSettings, tools: readonly Tool[], subAgents: readonly Agent[], log?: Logger): Agent {
  const provider = { baseURL: s.baseUrl, apiKey: s.apiKey, maxRetries: s.maxRetries, timeoutMs: s.timeoutMs, ...(log ? { log } : {}) };
  const logging = { apiKey: s.apiKey, ...(log ? { log } : {}) };
  const options: LlmAgentOptions = {
    name: s.name,
    description: `LLM agent (${s.model}) with tool calling; hands spend analysis to the analyst.`,
    stream:
      s.provider === 'anthropic' ? anthropicStream(createAnthropicClient(provider), logging) : openAiStream(createClient(provider), logging),
    model: s.model,
    systemPrompt: s.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
    tools,
    subAgents: subAgents.map((a) => ({ name: a.name, description: a.description })),
    maxSteps: s.maxSteps,
    historyTokens: s.historyTokens,
    streamRetries: s.maxRetries,
    streamIdleMs: s.streamIdleMs,
    ...(s.maxOutputTokens ? { maxOutputTokens: s.maxOutputTokens } : {}),
    coalesce: { maxDelayMs: s.flushMs, maxChars: s.flushChars },
  };
  return createLlmAgent(options);
}
