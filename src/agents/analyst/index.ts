// The sample agent: a deterministic cost analyst over the user's usage records. It is a tenant of
// the runtime like anyone's agent: `npm start` registers it through `createServer`'s options, and
// its usage reader comes from its own context factory, not from the runtime's tool contract.
import type { Agent, ServerServices, Tool, ToolContext, UserCreatedHook } from '../types.js';
import { insertUsage, usageReader } from '../../store/usage.js';
import { sampleUsage } from '../../usage/sample.js';
import type { UsageReader } from '../../usage/types.js';
import { runAnalyst } from './agent.js';
import { costProjectionTool } from './cost-projection.js';
import { pricingLookupTool } from './pricing-lookup.js';
import { usageSummaryTool } from './usage-summary.js';
import { perRunUsage } from './run-usage.js';

export type AnalystContext = { usage: UsageReader };

export const analystTools: Array<Tool<unknown, unknown, AnalystContext>> = [usageSummaryTool, pricingLookupTool, costProjectionTool];

export function createAnalystAgent(): Agent {
  return {
    name: 'analyst',
    description:
      'Deterministic cost analyst (not an LLM): breaks down your AI model spend by feature and model, suggests cheaper models per task and projects the monthly saving.',
    tools: analystTools.map((t) => t.name),
    run: runAnalyst,
  };
}

/** The analyst's tool context: the calling user's usage records, read from agentwire's database once per run. */
export const analystToolContext = (base: ToolContext, services: ServerServices): AnalystContext => ({
  usage: perRunUsage(usageReader(services.db, base.userId), base.userId, base.runId),
});

/** Every new user starts with a realistic sample set of usage records (replaced by uploading their own). */
export const analystOnUserCreated: UserCreatedHook = async (user, services) => {
  await insertUsage(services.db, user.id, sampleUsage(user.id, new Date()), 'sample');
};

/** Everything `createServer` needs to offer the analyst: spread it into the options. */
export function analyst() {
  return { agents: [createAnalystAgent()], tools: analystTools, toolContext: analystToolContext, onUserCreated: analystOnUserCreated };
}

export { usageSummaryTool, pricingLookupTool, costProjectionTool };
export type { UsageSummary } from './usage-summary.js';
export type { PricingLookup } from './pricing-lookup.js';
export type { CostProjection } from './cost-projection.js';
