// The protocol's constants, with no dependency at all: the client SDK, the chat page and the
// visualizer import them without pulling zod or anything of the server into their bundles.
// docs/protocol.md is the contract these name.

/** The WebSocket subprotocol a client offers (and the server answers with). */
export const SUBPROTOCOL = 'agentwire.v1';
/** A token offered as a second subprotocol: `bearer.<jwt>` (never echoed). */
export const BEARER_PREFIX = 'bearer.';

/** The run events of PROTOCOL section 4, in the order of the grammar's description. */
export const RUN_EVENT_TYPES = [
  'agent_started',
  'agent_thinking',
  'tool_executing',
  'tool_completed',
  'agent_output',
  'input_requested',
  'input_received',
  'agent_completed',
  'agent_error',
  'agent_cancelled',
] as const;

/** The events that end a run: exactly one, last. The one definition: the store, the hub, the cursor, the worker and the clients all read it. */
export const TERMINAL_TYPES = ['agent_completed', 'agent_error', 'agent_cancelled'] as const;
export type TerminalType = (typeof TERMINAL_TYPES)[number];
export const isTerminal = (type: string): type is TerminalType => (TERMINAL_TYPES as readonly string[]).includes(type);

export const CLIENT_FRAME_TYPES = ['agent_request', 'resume', 'ack', 'cancel_run', 'provide_input', 'feedback', 'ping'] as const;

/** What a run waiting for its user asks: a yes or no (`approval`), or a value (`input`, checked against its schema). */
export const INPUT_KINDS = ['approval', 'input'] as const;
export type InputKind = (typeof INPUT_KINDS)[number];

/** `tool_completed.error` of a call the user refused to approve. */
export const DENIED_BY_USER = 'denied by the user';

/** Stable error codes of `error` frames and HTTP error bodies. */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'thread_busy',
  'rate_limited',
  'payload_too_large',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Close codes the server uses. */
export const CLOSE_CODES = {
  /** Shutdown: reconnect (to any server) and resume. */
  goingAway: 1001,
  /** Repeated abuse (flooding). */
  policy: 1008,
  /** A frame over `limits.maxFrameBytes`. */
  tooBig: 1009,
  internal: 1011,
  /** The socket could not keep up: reconnect and resume. */
  tryAgainLater: 1013,
  /** The token expired or was revoked while connected: reconnect with a new one. */
  tokenExpired: 4401,
} as const;
