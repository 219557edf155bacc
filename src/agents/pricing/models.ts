// Pricing data, kept as a plain module (not JSON) so it needs no import attributes under NodeNext.
// Prices are providers' published list prices for standard (non-batch, uncached) text tokens at the
// base context size; they change, so `asOf` travels with every answer that uses them.

export const pricingAsOf = '2025-11-30';
export const pricingNote =
  "Providers' published list prices (USD per 1M tokens, standard tier, no caching or batch discounts) as of the date shown; check the providers' pricing pages before relying on them.";

export const modelRows = [
  // OpenAI
  { provider: 'openai', id: 'gpt-5', name: 'GPT-5', input: 1.25, output: 10, tier: 'frontier', context: 400_000, reasoning: true },
  { provider: 'openai', id: 'gpt-5-mini', name: 'GPT-5 mini', input: 0.25, output: 2, tier: 'balanced', context: 400_000, reasoning: true },
  { provider: 'openai', id: 'gpt-5-nano', name: 'GPT-5 nano', input: 0.05, output: 0.4, tier: 'small', context: 400_000, reasoning: true },
  { provider: 'openai', id: 'gpt-4.1', name: 'GPT-4.1', input: 2, output: 8, tier: 'frontier', context: 1_047_576, reasoning: false },
  { provider: 'openai', id: 'gpt-4.1-mini', name: 'GPT-4.1 mini', input: 0.4, output: 1.6, tier: 'balanced', context: 1_047_576, reasoning: false },
  { provider: 'openai', id: 'gpt-4.1-nano', name: 'GPT-4.1 nano', input: 0.1, output: 0.4, tier: 'small', context: 1_047_576, reasoning: false },
  { provider: 'openai', id: 'gpt-4o', name: 'GPT-4o', input: 2.5, output: 10, tier: 'frontier', context: 128_000, reasoning: false, aliases: ['chatgpt-4o-latest'] },
  { provider: 'openai', id: 'gpt-4o-mini', name: 'GPT-4o mini', input: 0.15, output: 0.6, tier: 'small', context: 128_000, reasoning: false },
  { provider: 'openai', id: 'o3', name: 'o3', input: 2, output: 8, tier: 'frontier', context: 200_000, reasoning: true },
  { provider: 'openai', id: 'o4-mini', name: 'o4-mini', input: 1.1, output: 4.4, tier: 'balanced', context: 200_000, reasoning: true },
  // Anthropic
  { provider: 'anthropic', id: 'claude-opus-4-5', name: 'Claude Opus 4.5', input: 5, output: 25, tier: 'frontier', context: 200_000, reasoning: false, aliases: ['claude-opus-4.5'] },
  { provider: 'anthropic', id: 'claude-opus-4-1', name: 'Claude Opus 4.1', input: 15, output: 75, tier: 'frontier', context: 200_000, reasoning: false, aliases: ['claude-opus-4.1', 'claude-opus-4', 'claude-opus-4-0', 'claude-4-opus'] },
  { provider: 'anthropic', id: 'claude-sonnet-4-5', name: 'Claude Sonnet 4.5', input: 3, output: 15, tier: 'frontier', context: 200_000, reasoning: false, aliases: ['claude-sonnet-4.5'] },
  { provider: 'anthropic', id: 'claude-sonnet-4', name: 'Claude Sonnet 4', input: 3, output: 15, tier: 'frontier', context: 200_000, reasoning: false, aliases: ['claude-sonnet-4-0', 'claude-4-sonnet'] },
  { provider: 'anthropic', id: 'claude-haiku-4-5', name: 'Claude Haiku 4.5', input: 1, output: 5, tier: 'balanced', context: 200_000, reasoning: false, aliases: ['claude-haiku-4.5'] },
  { provider: 'anthropic', id: 'claude-3-5-haiku', name: 'Claude Haiku 3.5', input: 0.8, output: 4, tier: 'small', context: 200_000, reasoning: false, aliases: ['claude-3.5-haiku', 'claude-3-5-haiku-latest'] },
  // Google (Gemini 2.5 Pro: prompts up to 200k tokens)
  { provider: 'google', id: 'gemini-2.5-pro', name: 'Gemini 2.5 Pro', input: 1.25, output: 10, tier: 'frontier', context: 1_048_576, reasoning: true },
  { provider: 'google', id: 'gemini-2.5-flash', name: 'Gemini 2.5 Flash', input: 0.3, output: 2.5, tier: 'balanced', context: 1_048_576, reasoning: true },
  { provider: 'google', id: 'gemini-2.5-flash-lite', name: 'Gemini 2.5 Flash-Lite', input: 0.1, output: 0.4, tier: 'small', context: 1_048_576, reasoning: false },
  { provider: 'google', id: 'gemini-2.0-flash', name: 'Gemini 2.0 Flash', input: 0.1, output: 0.4, tier: 'small', context: 1_048_576, reasoning: false },
  { provider: 'google', id: 'gemini-2.0-flash-lite', name: 'Gemini 2.0 Flash-Lite', input: 0.075, output: 0.3, tier: 'small', context: 1_048_576, reasoning: false },
  // Mistral
  { provider: 'mistral', id: 'mistral-large', name: 'Mistral Large', input: 2, output: 6, tier: 'frontier', context: 128_000, reasoning: false, aliases: ['mistral-large-latest'] },
  { provider: 'mistral', id: 'mistral-medium-3', name: 'Mistral Medium 3', input: 0.4, output: 2, tier: 'balanced', context: 128_000, reasoning: false, aliases: ['mistral-medium', 'mistral-medium-latest'] },
  { provider: 'mistral', id: 'mistral-small', name: 'Mistral Small 3.2', input: 0.1, output: 0.3, tier: 'small', context: 128_000, reasoning: false, aliases: ['mistral-small-latest', 'mistral-small-3.2'] },
] as const;
