// Server → client run events (PROTOCOL section 4). The same schemas type the server, the tests
// and (later) the client SDK.
import { z } from 'zod';

const envelope = {
  runId: z.string(),
  threadId: z.string(),
  seq: z.number().int().min(1),
  ts: z.string(),
};

/**
 * Additive extension (docs/protocol-notes.md): events a sub-agent produced inside its
 * supervisor's `ask_<agent>` tool call name that sub-agent. Absent on the run's own agent's events.
 */
const bySubAgent = { agent: z.string().optional() };

export const usageSchema = z.object({
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  costUsd: z.number().min(0).optional(),
  /**
   * Additive extension (docs/protocol-notes.md): present and true when some of the counts are
   * estimates (a model call that reported no usage: cut off, or made by an attempt that crashed).
   */
  estimated: z.boolean().optional(),
});

export const runEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('agent_started'), ...envelope, agent: z.string(), input: z.object({ text: z.string() }) }),
  z.object({ type: z.literal('agent_thinking'), ...envelope, text: z.string(), ...bySubAgent }),
  z.object({ type: z.literal('tool_executing'), ...envelope, toolCallId: z.string(), tool: z.string(), args: z.unknown(), ...bySubAgent }),
  z.object({
    type: z.literal('tool_completed'),
    ...envelope,
    toolCallId: z.string(),
    tool: z.string(),
    ok: z.boolean(),
    result: z.unknown().optional(),
    error: z.string().optional(),
    durationMs: z.number().min(0),
    ...bySubAgent,
  }),
  z.object({ type: z.literal('agent_output'), ...envelope, text: z.string() }),
  z.object({
    type: z.literal('agent_completed'),
    ...envelope,
    text: z.string(),
    data: z.unknown().optional(),
    usage: usageSchema.optional(),
    durationMs: z.number().min(0),
  }),
  z.object({ type: z.literal('agent_error'), ...envelope, code: z.string(), message: z.string(), retryable: z.boolean() }),
  z.object({ type: z.literal('agent_cancelled'), ...envelope, reason: z.string() }),
]);

export type RunEvent = z.infer<typeof runEventSchema>;
export type RunEventType = RunEvent['type'];
export type RunEventOf<T extends RunEventType> = Extract<RunEvent, { type: T }>;
/** An event before the log gives it its envelope. */
export type RunEventBody = RunEvent extends infer E
  ? E extends RunEvent
    ? Omit<E, 'runId' | 'threadId' | 'seq' | 'ts'>
    : never
  : never;

export const TERMINAL_TYPES = ['agent_completed', 'agent_error', 'agent_cancelled'] as const;
export type TerminalType = (typeof TERMINAL_TYPES)[number];
export const isTerminal = (type: string): type is TerminalType =>
  (TERMINAL_TYPES as readonly string[]).includes(type);

export type RunStatus = 'pending' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const ACTIVE_STATUSES: readonly RunStatus[] = ['pending', 'queued', 'running'];

export const statusForTerminal: Record<TerminalType, RunStatus> = {
  agent_completed: 'completed',
  agent_error: 'failed',
  agent_cancelled: 'cancelled',
};

/** Other server → client frames. */
export interface SessionReadyFrame {
  type: 'session_ready';
  sessionId: string;
  userId: string;
  serverTime: string;
  limits: { maxFrameBytes: number; requestsPerMinute: number };
  runs: Array<{ runId: string; threadId: string; status: RunStatus; lastSeq: number; ackedSeq: number }>;
}
export interface RunAcceptedFrame {
  type: 'run_accepted';
  requestId: string;
  runId: string;
  threadId: string;
}
export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  requestId?: string;
  runId?: string;
  retryAfterMs?: number;
}
export interface PongFrame {
  type: 'pong';
  id?: string | number;
}
export type ServerFrame = SessionReadyFrame | RunAcceptedFrame | ErrorFrame | PongFrame | RunEvent;
