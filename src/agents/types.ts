// What an agent sees of the runtime. Agents know nothing of sockets or SQL: they receive a
// context whose methods record events (stored, ordered, delivered by the runtime) and whose
// tools reach data through narrow interfaces.
import type { z } from 'zod';
import type { Logger } from '../log/logger.js';

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  costUsd?: number;
  /** Some of the counts are estimates: a model call that reported no usage (cut off, or a crashed attempt's). */
  estimated?: boolean;
}

export interface AgentResult {
  /** The whole final answer (Markdown). If the agent streamed `output` pieces, it must equal their concatenation. */
  text: string;
  data?: unknown;
  usage?: TokenUsage;
}

/**
 * What every tool call receives from the runtime. Whatever else a tool needs (a database handle, an
 * HTTP client, the user's records) comes from the embedder's context factory (`toolContext` of
 * `createServer`) and is merged into this object: a tool declares it as `ToolContext & C`.
 */
export interface ToolContext {
  userId: string;
  runId: string;
  threadId: string;
  /** The agent that made the call (a sub-agent's name inside a sub-agent call). */
  agent: string;
  toolCallId: string;
  /** Aborted when the run is cancelled, times out or is handed over, or when this call times out. */
  signal: AbortSignal;
  now: Date;
  /** A logger carrying the run, the tool and the call (JSON lines; never log secrets). */
  log: Logger;
}

/**
 * A tool agents call through `ctx.callTool`. `C` is what the embedder's context factory adds to
 * the generic `ToolContext` (nothing by default).
 */
export interface Tool<I = unknown, O = unknown, C extends object = object> {
  name: string;
  description: string;
  /** A zod (v4) schema: the runtime validates every call's arguments with it and models are shown it as JSON Schema. */
  input: z.ZodType<I>;
  /** This tool's own time limit; unset: the runtime's `TOOL_TIMEOUT_MS`. */
  timeoutMs?: number;
  /** Every call waits for its user's approval first (as do the tools named in `TOOLS_REQUIRING_APPROVAL`). */
  requiresApproval?: boolean;
  execute(input: I, ctx: ToolContext & C): Promise<O>;
}

/** agentwire's own database, one statement at a time (positional parameters $1, $2 …). */
export interface SqlQuery {
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

/** What the runtime lends to the embedder's hooks. */
export interface ServerServices {
  /** agentwire's database (PostgreSQL, or the embedded PGlite): an embedder may keep its own tables there. */
  db: SqlQuery;
}

/**
 * The embedder's part of every tool call's context: called once per call, its result merged into
 * the generic `ToolContext`. A factory that throws fails that call (`tool_completed {ok: false}`).
 */
export type ToolContextFactory<C extends object = object> = (base: ToolContext, services: ServerServices) => C | Promise<C>;

/** Runs in the registering transaction: `services.db` is that transaction (a throw refuses the registration). */
export type UserCreatedHook = (user: { id: string; username: string }, services: ServerServices) => Promise<void>;

/**
 * One step an earlier attempt of this run stored before its worker died (see
 * `AgentContext.resume`). A tool step without `outcome` was still running at the crash; the
 * runtime records it as interrupted.
 */
export type PriorStep =
  | { kind: 'thinking'; text: string }
  | { kind: 'output'; text: string }
  | {
      kind: 'tool';
      toolCallId: string;
      tool: string;
      args: unknown;
      outcome?: { ok: true; result: unknown } | { ok: false; error: string };
      /**
       * The run waited for the approval of this call and got its answer (yes or no): the call
       * has not been made yet. The agent makes it now (`callTool` with the same name and
       * arguments uses the stored answer: nothing is asked again).
       */
      answered?: true;
    };

/** A question for the run's user (`ctx.ask`). */
export type AskRequest =
  | { kind: 'approval'; prompt: string }
  | {
      kind: 'input';
      prompt: string;
      /** A JSON Schema the answer must satisfy (checked when it arrives; a refused answer is the answering client's `bad_request`). */
      schema?: Record<string, unknown>;
    };

/** The answer to an `approval` question. */
export interface Approval {
  approved: boolean;
  reason?: string;
}

export interface AgentContext {
  runId: string;
  threadId: string;
  userId: string;
  agent: string;
  input: { text: string };
  /** Earlier messages of the thread, oldest first, not including this run's input. */
  history: readonly ChatMessage[];
  signal: AbortSignal;
  now: Date;
  /** Records an `agent_thinking` event. */
  think(text: string): Promise<void>;
  /** Records an `agent_output` event (a streamed piece of the final answer). */
  output(text: string): Promise<void>;
  /**
   * Calls a registered tool: records `tool_executing`, validates `args` with the tool's schema,
   * runs it, records `tool_completed`, and returns its result. A failed tool throws `ToolError`
   * after its `tool_completed {ok: false}` is recorded.
   */
  callTool<O = unknown>(name: string, args: unknown): Promise<O>;
  /**
   * Wraps one call to a language model: the runtime traces it (model name, token usage, outcome)
   * and passes the run's signal. Records no event; `usage` reads the tokens from the result.
   */
  modelCall<T>(model: string, call: (signal: AbortSignal) => Promise<T>, usage?: (result: T) => TokenUsage | undefined): Promise<T>;
  /**
   * Hands `task` to another registered agent (a sub-agent). Recorded as one tool call named
   * `ask_<agent>` whose `tool_executing … tool_completed` pair encloses the sub-agent's own
   * thinking and tool events, each tagged with the sub-agent's name; the sub-agent's answer is
   * the call's result (its streamed output becomes thinking: it is not this run's answer).
   */
  callAgent(agent: string, task: string): Promise<AgentResult>;
  /**
   * For agents that cannot replay themselves step by step (a model does not answer twice the
   * same): returns what an earlier attempt of this run stored, in order, and switches the run to
   * live at once, so nothing the agent does afterwards is matched against stored events. Tool
   * calls the crash left open are recorded as interrupted. Empty on a first attempt.
   */
  resume(): Promise<readonly PriorStep[]>;
  /**
   * Asks the run's user and returns the answer. The run waits durably: `input_requested` is
   * stored, the worker lets the run go (no slot, no lease, nothing in memory), and when the user
   * answers (`provide_input`, from any socket, hours later) any worker continues the run: it runs
   * the agent again from the stored events (as after a takeover), and this call returns the
   * stored answer. Only the run's own agent may ask (a sub-agent's call fails).
   */
  ask(question: { kind: 'approval'; prompt: string }): Promise<Approval>;
  ask<T = unknown>(question: { kind: 'input'; prompt: string; schema?: Record<string, unknown> }): Promise<T>;
}

/** A failure the agent classified itself: becomes `agent_error {code, message, retryable}`. */
export class AgentFailure extends Error {
  override name = 'AgentFailure';
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Agent {
  name: string;
  /** One line for humans: what this agent is (and, for deterministic agents, that it is not an LLM). */
  description: string;
  /**
   * The registered tools this agent may call; unset: all of them. The runtime records a call to
   * any other name as a failed call (`no such tool`) and runs nothing.
   */
  tools?: readonly string[];
  run(ctx: AgentContext): Promise<AgentResult>;
}

/** The error of a call to a tool the agent does not have (recorded in `tool_completed.error`). */
export const NO_SUCH_TOOL = 'no such tool';

export class ToolError extends Error {
  override name = 'ToolError';
  constructor(
    readonly tool: string,
    message: string,
  ) {
    super(message);
  }
}

/** Output after the last tool call in the stored steps: an answer a crash cut off, to be continued (agents on a model). */
export function trailingOutput(prior: readonly PriorStep[]): string {
  let t = '';
  for (const s of prior) {
    if (s.kind === 'tool') t = '';
    else if (s.kind === 'output') t += s.text;
  }
  return t;
}
