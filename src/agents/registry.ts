// Which agents and tools this server offers, by name.
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
}
