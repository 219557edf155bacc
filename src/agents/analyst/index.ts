// The built-in default agent: a deterministic cost analyst over the user's usage records.
import type { Agent, Tool } from '../types.js';
import { runAnalyst } from './agent.js';
import { costProjectionTool } from './cost-projection.js';
import { pricingLookupTool } from './pricing-lookup.js';
import { usageSummaryTool } from './usage-summary.js';

export const analystTools: Tool[] = [usageSummaryTool, pricingLookupTool, costProjectionTool];

export function createAnalystAgent(): Agent {
  return {
    name: 'analyst',
    description:
      'Deterministic cost analyst (not an LLM): breaks down your AI model spend by feature and model, suggests cheaper models per task and projects the monthly saving.',
    run: runAnalyst,
  };
}

export { usageSummaryTool, pricingLookupTool, costProjectionTool };
export type { UsageSummary } from './usage-summary.js';
export type { PricingLookup } from './pricing-lookup.js';
export type { CostProjection } from './cost-projection.js';
