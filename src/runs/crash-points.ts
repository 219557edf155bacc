// Crash points: named moments at which the crash sweep (`npm run chaos`, scripts/chaos/) kills
// this process, as a SIGKILL would, to prove that no step boundary loses or repeats anything.
// Test-only: inert unless AGENTWIRE_CRASH_AT is set; the variable is read once, at start.
//
//   AGENTWIRE_CRASH_AT=<point>:<n>[,<point>:<n>]   die at the n-th hit of <point> in this process
//   AGENTWIRE_CRASH_MARK=<path prefix>             death i happens once across all processes:
//                                                  it creates <prefix>.<i> first (O_EXCL), and
//                                                  death i+1 waits until <prefix>.<i> exists
//   AGENTWIRE_CRASH_TRACE=<file>                   appends each hit's name (a sweep's probe)
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Every crash point, in one place: the sweep enumerates this list, and its results record it (a
 * test compares the two). Each is a `crashPoint(…)` call in the module named beside it (a test finds each in src/).
 */
export const CRASH_POINTS = {
  'append.before': "the append batcher's write, before its statement is sent (store/append-batcher.ts)",
  'append.after': "the append batcher's write, after it committed, before the run hears (store/append-batcher.ts)",
  'tool.before': "before a tool's side effect: its tool_executing stored, execute not called (runs/agent-context.ts)",
  'tool.after': "after a tool's side effect: execute returned, its tool_completed not stored (runs/agent-context.ts)",
  'model.piece': 'inside a model stream, after its k-th piece (agents/llm/agent.ts)',
  'terminal.before_commit': "the terminal write (its event, answer and hand-over: one statement, which commits as it runs) built, not sent: nothing of it durable, as in a transaction killed before its commit (runs/executor.ts)",
  'terminal.after_commit': 'after the terminal write committed, before the worker hears (runs/executor.ts)',
  'subagent.call': "during a sub-agent call: its tool_executing stored, the sub-agent about to run (runs/sub-agents.ts)",
  'cancel.recorded': "during a cancel: the reason stored in the run's row, its worker not yet told (runs/cancel.ts)",
  'cancel.unstarted': "during a cancel of a run not started (queued behind another): its agent_started and agent_cancelled committed, not announced, its thread not passed on (runs/cancel.ts)",
  'cancel.stopping': 'during a cancel: the worker stopped the agent, agent_cancelled not stored (runs/executor.ts)',
  'wait.parked': "while a run waits for a person: its input_requested and the park committed, the worker's slot not yet released (runs/agent-context.ts)",
  'wait.answered': "while a run waits for a person: the answer's input_received and hand-over committed, not announced, no worker started or woken (runs/waits.ts)",
} as const;

export type CrashPointName = keyof typeof CRASH_POINTS;
export const CRASH_POINT_NAMES = Object.keys(CRASH_POINTS) as CrashPointName[];

const death = z.string().transform((s, ctx) => {
  const m = /^([a-z_.]+):([1-9]\d*)$/.exec(s.trim());
  if (!m || !(m[1]! in CRASH_POINTS)) {
    ctx.addIssue({ code: 'custom', message: `AGENTWIRE_CRASH_AT: ${JSON.stringify(s)} is not <point>:<n> with a point of ${CRASH_POINT_NAMES.join(', ')}` });
    return z.NEVER;
  }
  return { point: m[1] as CrashPointName, nth: Number(m[2]) };
});

interface Death {
  point: CrashPointName;
  nth: number;
}

function parse(env: NodeJS.ProcessEnv): { deaths: Death[]; mark: string | undefined; trace: string | undefined } {
  const at = env.AGENTWIRE_CRASH_AT;
  const deaths = at ? at.split(',').map((s) => death.parse(s)) : [];
  return { deaths, mark: env.AGENTWIRE_CRASH_MARK, trace: env.AGENTWIRE_CRASH_TRACE };
}

const armed = parse(process.env);
const active = armed.deaths.length > 0 || armed.trace !== undefined;
const hits = new Map<CrashPointName, number>();

/** Whether death `i` may happen now: the ones before it happened, and nobody took it yet (O_EXCL). */
function claimDeath(i: number): boolean {
  if (!armed.mark) return true;
  if (i > 0 && !existsSync(`${armed.mark}.${i - 1}`)) return false;
  try {
    writeFileSync(`${armed.mark}.${i}`, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}

/** A named crash point: a no-op unless the sweep armed this process. */
export function crashPoint(name: CrashPointName): void {
  if (!active) return;
  const n = (hits.get(name) ?? 0) + 1;
  hits.set(name, n);
  if (armed.trace) appendFileSync(armed.trace, `${name}\n`);
  for (const [i, d] of armed.deaths.entries()) {
    if (d.point !== name || d.nth !== n) continue;
    if (!claimDeath(i)) continue;
    // As `kill -9` would: no handler runs, nothing is flushed, no lease released.
    process.kill(process.pid, 'SIGKILL');
  }
}
