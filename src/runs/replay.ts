// The takeover replay: what an attempt does with the events an earlier attempt of its run stored.
// Pure (no IO, no agent): the attempt's context (./agent-context.ts) asks it, step by step, whether
// the agent's step is one already stored (then nothing is stored or called again) and, when the
// agent first differs or ends, what becomes of the tool calls the crash left open. tests/unit/runs/
// replay.test.ts drives it over stored histories.
import type { PriorStep } from '../agents/types.js';
import type { RunEvent, RunEventOf } from '../protocol/events.js';

/** The tool_completed error of a call closed because its attempt died during it. */
export const INTERRUPTED = 'interrupted: the worker running this call stopped';

/** A question the run asked and got its answer to, with nothing stored after the answer: this attempt continues from it. */
export interface PendingAnswer {
  question: RunEventOf<'input_requested'>;
  value: unknown;
}

export function pendingAnswer(history: readonly RunEvent[]): PendingAnswer | undefined {
  const last = history[history.length - 1];
  if (last?.type !== 'input_received') return undefined;
  const question = history.find((e): e is RunEventOf<'input_requested'> => e.type === 'input_requested' && e.interruptId === last.interruptId);
  return question ? { question, value: last.value } : undefined;
}

/**
 * What `resume()` gives an agent that cannot repeat itself (a model): the run's own agent's steps
 * (sub-agents' events are inside their call's result), tool calls paired with their outcome. An
 * approved or denied call whose answer is the last thing stored is the agent's to make now.
 */
export function priorSteps(history: readonly RunEvent[]): PriorStep[] {
  const steps: PriorStep[] = [];
  const pending = pendingAnswer(history);
  if (pending?.question.kind === 'approval' && pending.question.tool !== undefined) {
    return [...priorSteps(history.slice(0, -2)), { kind: 'tool', toolCallId: pending.question.interruptId, tool: pending.question.tool, args: pending.question.args ?? null, answered: true }];
  }
  const tools = new Map<string, Extract<PriorStep, { kind: 'tool' }>>();
  for (const e of history) {
    if ('agent' in e && e.type !== 'agent_started' && e.agent !== undefined) continue;
    if (e.type === 'agent_thinking') steps.push({ kind: 'thinking', text: e.text });
    else if (e.type === 'agent_output') steps.push({ kind: 'output', text: e.text });
    else if (e.type === 'tool_executing') {
      const step: Extract<PriorStep, { kind: 'tool' }> = { kind: 'tool', toolCallId: e.toolCallId, tool: e.tool, args: e.args };
      tools.set(e.toolCallId, step);
      steps.push(step);
    } else if (e.type === 'tool_completed') {
      const step = tools.get(e.toolCallId);
      if (step) step.outcome = e.ok ? { ok: true, result: e.result ?? null } : { ok: false, error: e.error ?? 'failed' };
    }
  }
  return steps;
}

/** What becomes of a tool call left open when the attempt goes live. */
export type OpenCallAction =
  /** Made again under its own toolCallId (the tool's idempotency key), its outcome stored. */
  | { action: 'rerun'; started: RunEventOf<'tool_executing'> }
  /** Closed as interrupted (a sub-agent call, or one whose start is not in the log). */
  | { action: 'interrupt'; toolCallId: string; tool: string; agent?: string };

/**
 * The open calls' fate, innermost first (a sub-agent's call before the call that encloses it):
 * a call being continued (`keepOpen`) is left alone, a sub-agent call is closed as interrupted,
 * and any other call is made again.
 */
export function openCallActions(
  history: readonly RunEvent[],
  open: readonly string[],
  keepOpen: ReadonlySet<string>,
  isSubAgentCall: (started: RunEventOf<'tool_executing'>) => boolean,
): OpenCallAction[] {
  const actions: OpenCallAction[] = [];
  for (const toolCallId of [...open].reverse()) {
    if (keepOpen.has(toolCallId)) continue;
    const started = history.find((e): e is RunEventOf<'tool_executing'> => e.type === 'tool_executing' && e.toolCallId === toolCallId);
    if (started && !isSubAgentCall(started)) actions.push({ action: 'rerun', started });
    else actions.push({ action: 'interrupt', toolCallId, tool: started?.tool ?? 'unknown', ...(started?.agent ? { agent: started.agent } : {}) });
  }
  return actions;
}

/**
 * The events an earlier attempt stored, walked in step with the agent. While the agent repeats
 * them, nothing is stored; at the first difference (or the end) the attempt goes live.
 * `history` is the recorder's log (it grows as this attempt appends); history[0] is agent_started,
 * which the attempt handles.
 */
export class Replay {
  private i = 1;
  private live: boolean;
  private diverged = false;
  /** Whether any stored step was replayed. */
  used = false;
  /** Calls being continued under their own id (a sub-agent call resumed): never closed as interrupted. */
  readonly keepOpen = new Set<string>();

  constructor(private readonly history: readonly RunEvent[]) {
    this.live = history.length <= 1;
  }

  get isLive(): boolean {
    return this.live;
  }

  /** Consumes the next stored event if `match` accepts it. */
  take<T extends RunEvent>(match: (e: RunEvent) => e is T): T | undefined {
    const e = this.live ? undefined : this.history[this.i];
    if (e && match(e)) {
      this.consumeTo(this.i + 1);
      return e;
    }
    return undefined;
  }

  /**
   * Consumes stored events up to and including the `tool_completed` of `toolCallId` (a sub-agent's
   * call, whose own events lie in between), if that completion is stored.
   */
  skipPast(toolCallId: string): RunEventOf<'tool_completed'> | undefined {
    if (this.live) return undefined;
    for (let j = this.i; j < this.history.length; j++) {
      const e = this.history[j];
      if (e?.type === 'tool_completed' && e.toolCallId === toolCallId) {
        this.consumeTo(j + 1);
        return e;
      }
    }
    return undefined;
  }

  /** Replays from just after stored event `index` (a sub-agent call being continued). */
  seekAfter(index: number): void {
    this.i = index + 1;
    this.live = this.i >= this.history.length;
  }

  /**
   * Goes live, and says what to do with the calls the crashed attempt left open (`open`: the
   * run's open calls now). Only the first time: later, open calls are this attempt's own (a
   * sub-agent's call encloses its steps), and the answer is empty.
   */
  diverge(open: readonly string[], isSubAgentCall: (started: RunEventOf<'tool_executing'>) => boolean): OpenCallAction[] {
    if (this.diverged) return [];
    this.diverged = true;
    this.live = true;
    return openCallActions(this.history, open, this.keepOpen, isSubAgentCall);
  }

  private consumeTo(next: number): void {
    this.i = next;
    this.used = true;
    if (this.i >= this.history.length) this.live = true;
  }
}
