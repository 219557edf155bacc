// What the parts of one attempt share (./executor.ts runs it, ./agent-context.ts and
// ./sub-agents.ts make its agent's context): what it needs, how it can end, why it stops.
import type { AgentRegistry } from '../agents/registry.js';
import { ToolError, type ChatMessage, type ToolContext } from '../agents/types.js';
import type { Logger } from '../log/logger.js';
import type { Db } from '../store/db.js';
import type { Telemetry } from '../telemetry/index.js';
import type { ThreadTurns } from './scheduler.js';

export interface ExecutorDeps {
  db: Db;
  agents: AgentRegistry;
  log: Logger;
  /** The embedder's part of each tool call's context (`createServer`'s `toolContext`), merged into the generic one. */
  toolContext?: (base: ToolContext) => object | Promise<object>;
  history(threadId: string, beforeRunId: string): Promise<ChatMessage[]>;
  /** The terminal transaction hands the thread to its next waiting run through this (the scheduler; `NO_TURNS` in tests). */
  turns: ThreadTurns;
  toolTimeoutMs: number;
  runTimeoutMs: number;
  /** A run waiting for its user longer than this ends with `agent_error input_timeout` (./waits.ts); unset: no limit. */
  inputTimeoutMs?: number | undefined;
  /** Whether a call of this tool needs its user's approval first (TOOLS_REQUIRING_APPROVAL, `requiresApproval`). */
  requiresApproval?(tool: string): boolean;
  telemetry?: Telemetry;
}

/**
 * `handedOver` and `superseded` store no terminal event: another attempt finishes the run.
 * `parked`: the run asked its user and waits, holding no worker; the answer's attempt continues it.
 */
export type Outcome = 'completed' | 'failed' | 'cancelled' | 'handedOver' | 'superseded' | 'parked';

/** Why an attempt's signal was aborted. */
export class RunAborted extends Error {
  override name = 'RunAborted';
  constructor(
    readonly kind: 'cancel' | 'handover' | 'superseded' | 'timeout' | 'parked',
    message: string,
  ) {
    super(message);
  }
}

/** A tool call that outlived its time limit. */
export class ToolTimeout extends ToolError {}
