// `agentwire`: the stable public surface. Everything else in the package is internal and may change.
//   createServer(options)      a running server: agents, tools, the database, sockets and HTTP
//   defineAgent / defineTool   typed definitions of what it runs
// Subpaths: agentwire/client (the SDK), agentwire/protocol (wire types and schemas),
// agentwire/testing (a harness for agents), agentwire/ai-sdk (agents written with the AI SDK).
export { createServer, type Server, type ServerOptions } from './server/index.js';
export { defineAgent, defineTool, type AgentDefinition, type ToolDefinition } from './define.js';
export {
  AgentFailure,
  ToolError,
  NO_SUCH_TOOL,
  type Agent,
  type AgentContext,
  type AgentResult,
  type ChatMessage,
  type PriorStep,
  type ServerServices,
  type SqlQuery,
  type TokenUsage,
  type Tool,
  type ToolContext,
  type ToolContextFactory,
  type UserCreatedHook,
} from './agents/types.js';
export { OptionsError, type OptionIssue, type Settings } from './config/options.js';
export { optionsFromEnv } from './config/env.js';
export { OutputCoalescer, type CoalesceOptions } from './agents/llm/coalesce.js';
export type { Logger } from './log/logger.js';
