// `defineAgent` and `defineTool`: typed constructors for what `createServer` runs. They check
// nothing at runtime (createServer checks everything at start, naming the culprit); they exist so
// that a tool's `execute` gets its input typed from its zod schema, and its context from `C`.
import type { z } from 'zod';
import type { Agent, AgentContext, AgentResult, Tool, ToolContext } from './agents/types.js';

export interface AgentDefinition {
  /** How requests name it (`agent_request.agent`): letters, digits, `_ . -`, at most 64. */
  name: string;
  /** One line for humans and for models that may hand it tasks. */
  description: string;
  /** The registered tools it may call; unset: every tool. A call to any other is recorded as failed (`no such tool`). */
  tools?: readonly string[];
  /**
   * Does the work: `ctx.think`, `ctx.output`, `ctx.callTool`, `ctx.callAgent` record events (stored,
   * ordered, delivered), then the returned `text` becomes `agent_completed`. If it streamed
   * `ctx.output` pieces, `text` must be their concatenation.
   */
  run(ctx: AgentContext): Promise<AgentResult>;
}

export function defineAgent(definition: AgentDefinition): Agent {
  return { ...definition };
}

export interface ToolDefinition<S extends z.ZodType, O, C extends object> {
  /** How agents (and models) call it: 1-64 letters, digits, `_` or `-`; `ask_…` is reserved. */
  name: string;
  description: string;
  /** A zod (v4) schema: every call's arguments are validated with it before `execute` runs. */
  input: S;
  /** This tool's time limit; unset: `runs.toolTimeoutMs` (30 s). Past it the call fails, and `ctx.signal` aborts. */
  timeoutMs?: number;
  /** Every call waits for its user's approval first (`input_requested {kind: "approval", tool, args}`); denied: `tool_completed {ok: false, error: "denied by the user"}`. */
  requiresApproval?: boolean;
  /** `ctx`: the generic context (user, run, signal, logger …) and what the server's `toolContext` adds (`C`). */
  execute(input: z.output<S>, ctx: ToolContext & C): Promise<O> | O;
}

/**
 * A tool. `C` is what it needs from the server's `toolContext` factory, e.g.
 * `defineTool<typeof input, Note[], { notes: NoteStore }>(…)`, or inferred from an annotated
 * `ctx: ToolContext & { notes: NoteStore }`.
 */
export function defineTool<S extends z.ZodType, O, C extends object = object>(definition: ToolDefinition<S, O, C>): Tool<z.output<S>, O, C> {
  const { execute, input, ...rest } = definition;
  return { ...rest, input: input as z.ZodType<z.output<S>>, execute: async (i, ctx) => execute(i, ctx) };
}
