// Which agents and tools this server offers, by name; and the check, at start, that what an
// embedder registered can run: each problem named by where it is (`agents[1]`, `tools[0].input`).
import type { Logger } from '../log/logger.js';
import type { LlmConfig } from '../config/index.js';
import { OptionsError, agentNameSchema, type OptionIssue } from '../config/options.js';
import { llmAgentFromSettings } from './llm/index.js';
import type { Agent, Tool } from './types.js';

export class AgentRegistry {
  private readonly agents = new Map<string, Agent>();
  private readonly tools = new Map<string, Tool>();

  addAgent(agent: Agent): this {
    this.agents.set(agent.name, agent);
    return this;
  }

  addTool(tool: Tool<never, unknown> | Tool): this {
    this.tools.set(tool.name, tool as Tool);
    return this;
  }

  agent(name: string): Agent | undefined {
    return this.agents.get(name);
  }

  tool(name: string): Tool | undefined {
    return this.tools.get(name);
  }

  agentNames(): string[] {
    return [...this.agents.keys()];
  }

  toolList(): Tool[] {
    return [...this.tools.values()];
  }

  agentList(): Agent[] {
    return [...this.agents.values()];
  }
}

/** Tool names go to models as function names: OpenAI's rule, which the others accept too. */
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** A zod 4 schema (classic or mini): what the runtime validates with and shows models as JSON Schema. */
export const isZodSchema = (v: unknown): boolean => isObject(v) && isObject(v._zod) && typeof (v as { safeParse?: unknown }).safeParse === 'function';

export interface RegistryInput {
  agents?: readonly unknown[] | undefined;
  tools?: readonly unknown[] | undefined;
  defaultAgent?: string | undefined;
  llm?: LlmConfig | undefined;
  /** TOOLS_REQUIRING_APPROVAL: each must name a registered tool. */
  toolsRequiringApproval?: readonly string[] | undefined;
  log: Logger;
}

/**
 * Checks and registers the agents and tools; adds the LLM agent when a model is configured (with
 * every tool, and every other agent as a sub-agent). Returns the registry and the default agent.
 * Throws `OptionsError` listing every problem.
 */
export function buildRegistry(o: RegistryInput): { registry: AgentRegistry; defaultAgent: string } {
  const issues: OptionIssue[] = [];
  const registry = new AgentRegistry();
  const toolAt = new Map<string, number>();
  (o.tools ?? []).forEach((t, i) => {
    const at = `tools[${i}]`;
    if (!isObject(t)) return void issues.push({ path: at, message: 'must be a tool (defineTool({ name, description, input, execute }))' });
    const name = typeof t.name === 'string' ? t.name : undefined;
    const named = name ? `${at} (${name})` : at;
    if (!name || !TOOL_NAME.test(name)) issues.push({ path: `${at}.name`, message: 'must be 1-64 letters, digits, _ or -' });
    else if (name.startsWith('ask_')) issues.push({ path: `${named}.name`, message: 'names starting with ask_ are the calls to sub-agents' });
    if (typeof t.description !== 'string') issues.push({ path: `${named}.description`, message: 'must be a string (models read it to choose the tool)' });
    if (!isZodSchema(t.input)) issues.push({ path: `${named}.input`, message: 'must be a zod (v4) schema, e.g. z.object({ city: z.string() })' });
    if (typeof t.execute !== 'function') issues.push({ path: `${named}.execute`, message: 'must be a function (input, ctx) => Promise<result>' });
    if (t.timeoutMs !== undefined && !(Number.isInteger(t.timeoutMs) && (t.timeoutMs as number) > 0)) issues.push({ path: `${named}.timeoutMs`, message: 'must be a positive whole number of milliseconds' });
    if (t.requiresApproval !== undefined && typeof t.requiresApproval !== 'boolean') issues.push({ path: `${named}.requiresApproval`, message: 'must be true or false' });
    if (name === undefined) return;
    const first = toolAt.get(name);
    if (first !== undefined) return void issues.push({ path: `${at}.name`, message: `two tools are named "${name}" (tools[${first}] and ${at})` });
    toolAt.set(name, i);
    registry.addTool(t as unknown as Tool);
  });

  const agentAt = new Map<string, string>();
  const agents = o.agents ?? [];
  agents.forEach((a, i) => {
    const at = `agents[${i}]`;
    if (!isObject(a)) return void issues.push({ path: at, message: 'must be an agent (defineAgent({ name, description, run }))' });
    const name = typeof a.name === 'string' && agentNameSchema.safeParse(a.name).success ? a.name : undefined;
    const named = name ? `${at} (${name})` : at;
    if (!name) issues.push({ path: `${at}.name`, message: 'must be 1-64 letters, digits, _ . - (starting with a letter or digit)' });
    if (typeof a.description !== 'string') issues.push({ path: `${named}.description`, message: 'must be a string' });
    if (typeof a.run !== 'function') issues.push({ path: `${named}.run`, message: 'must be a function (ctx) => Promise<{ text }>' });
    if (a.tools !== undefined) {
      if (!Array.isArray(a.tools) || !a.tools.every((n) => typeof n === 'string')) issues.push({ path: `${named}.tools`, message: 'must be a list of tool names' });
      else for (const n of a.tools as string[]) if (!toolAt.has(n)) issues.push({ path: `${named}.tools`, message: `no tool named "${n}" is registered (add it to tools)` });
    }
    if (name === undefined) return;
    const first = agentAt.get(name);
    if (first !== undefined) return void issues.push({ path: `${at}.name`, message: `two agents are named "${name}" (${first} and ${at})` });
    agentAt.set(name, at);
    registry.addAgent(a as unknown as Agent);
  });
  if (agents.length === 0 && !o.llm) issues.push({ path: 'agents', message: 'at least one agent is needed (defineAgent({ name, description, run }))' });

  if (o.llm) {
    const first = agentAt.get(o.llm.name);
    if (first !== undefined) issues.push({ path: 'llm.name', message: `an agent named "${o.llm.name}" is registered already (${first}): the LLM agent needs a name of its own` });
    for (const n of o.llm.tools ?? []) if (!toolAt.has(n)) issues.push({ path: 'llm.tools', message: `no tool named "${n}" is registered` });
    for (const n of o.llm.agents ?? []) if (!agentAt.has(n)) issues.push({ path: 'llm.agents', message: `no agent named "${n}" is registered` });
    if (first === undefined && issues.length === 0) {
      const tools = registry.toolList().filter((t) => !o.llm?.tools || o.llm.tools.includes(t.name));
      const subAgents = registry.agentList().filter((a) => !o.llm?.agents || o.llm.agents.includes(a.name));
      const agent = llmAgentFromSettings(o.llm, tools, subAgents, o.log.child({ agent: o.llm.name }));
      registry.addAgent(agent);
      agentAt.set(agent.name, 'llm');
    }
  }
  for (const n of o.toolsRequiringApproval ?? []) {
    if (!toolAt.has(n)) issues.push({ path: 'runs.toolsRequiringApproval', message: `no tool named "${n}" is registered` });
  }
  const defaultAgent = o.defaultAgent ?? o.llm?.name ?? registry.agentNames()[0] ?? '';
  if (o.defaultAgent !== undefined && !agentAt.has(o.defaultAgent)) {
    issues.push({ path: 'defaultAgent', message: `no agent named "${o.defaultAgent}" is registered (registered: ${[...agentAt.keys()].join(', ') || 'none'})` });
  }
  if (issues.length > 0) throw new OptionsError(issues);
  return { registry, defaultAgent };
}
