// The crash sweep's oracle: what must hold after any run, however many process deaths it went
// through. Written apart from the code under test: its grammar is its own (protocol section 4,
// as tests/property/run-grammar.test.ts's reference checker states it), and the run statechart
// (machines/run.machine.ts) is checked beside it, so a bug shared by the two would have to be
// made twice.
import { stepRun, initialRunSnapshot, type RunMachineEvent } from '../../machines/run.machine.js';

export type Event = { type: string; seq: number; runId: string; [k: string]: unknown };

/** What one client was shown of one run. */
export interface ClientView {
  client: string;
  /** Every run event frame, in arrival order. */
  frames: Event[];
}

export interface Effect {
  toolCallId: string;
  key: string;
}

export interface RunFacts {
  runId: string;
  /** The run's log as stored (GET /v1/runs/:id/events). */
  stored: Event[];
  views: ClientView[];
  /** Every execution of the sweep's tool for this run (its own table). */
  effects: Effect[];
  /** Model calls the provider answered for this run (LLM runs), or undefined. */
  modelCalls: number | undefined;
  /** A run that asks a person: what the clients answer to each kind of question, and the answer the run then gives. */
  person?: { answers: Record<'input' | 'approval', unknown>; answer: string };
}

export interface Breach {
  check: string;
  detail: string;
}

/** JSON with object keys sorted: the log's jsonb and the socket's frame order keys differently. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

const TERMINAL = new Set(['agent_completed', 'agent_error', 'agent_cancelled']);

/**
 * The grammar, independently: agent_started ( thinking | output | tool_executing … tool_completed
 * | input_requested input_received )* terminal; a question only while no call is open, each
 * interruptId once, and after it only its answer or an end other than agent_completed.
 */
export function grammarBreach(events: readonly Event[]): string | undefined {
  let phase: 'new' | 'running' | 'asking' | 'done' = 'new';
  let asked = '';
  const questions = new Set<string>();
  const open = new Set<string>();
  const seen = new Set<string>();
  let outputs = '';
  let anyOutput = false;
  for (const [i, e] of events.entries()) {
    const at = `#${i + 1} (${e.type})`;
    if (e.seq !== i + 1) return `${at}: seq ${e.seq}, expected ${i + 1}`;
    if (phase === 'done') return `${at}: an event after the terminal one`;
    if (phase === 'new') {
      if (e.type !== 'agent_started') return `${at}: the first event is not agent_started`;
      phase = 'running';
      continue;
    }
    const id = typeof e.toolCallId === 'string' ? e.toolCallId : '';
    const interruptId = typeof e.interruptId === 'string' ? e.interruptId : '';
    if (phase === 'asking') {
      if (e.type === 'input_received' && interruptId === asked) {
        phase = 'running';
        continue;
      }
      if (e.type !== 'agent_error' && e.type !== 'agent_cancelled') return `${at}: after question ${asked}, not its answer nor an end`;
    }
    switch (e.type) {
      case 'input_requested':
        if (open.size > 0) return `${at}: a question while calls are open (${[...open].join(', ')})`;
        if (questions.has(interruptId)) return `${at}: question ${interruptId} asked twice`;
        questions.add(interruptId);
        asked = interruptId;
        phase = 'asking';
        break;
      case 'input_received':
        return `${at}: answers ${interruptId}, which is not the open question`;
      case 'agent_started':
        return `${at}: a second agent_started`;
      case 'agent_thinking':
        break;
      case 'agent_output':
        outputs += String(e.text);
        anyOutput = true;
        break;
      case 'tool_executing':
        if (seen.has(id)) return `${at}: toolCallId ${id} executed twice`;
        seen.add(id);
        open.add(id);
        break;
      case 'tool_completed':
        if (!open.delete(id)) return `${at}: completes ${id}, which is not open`;
        break;
      case 'agent_completed':
        if (open.size > 0) return `${at}: completed with open calls ${[...open].join(', ')}`;
        if (anyOutput && e.text !== outputs) return `${at}: the answer is not the output streamed`;
        phase = 'done';
        break;
      case 'agent_error':
      case 'agent_cancelled':
        phase = 'done';
        break;
      default:
        return `${at}: unknown event type`;
    }
  }
  return phase === 'done' ? undefined : 'the log has no terminal event';
}

const toMachine = (e: Event): RunMachineEvent =>
  (e.type === 'tool_executing' || e.type === 'tool_completed'
    ? { type: e.type, toolCallId: e.toolCallId }
    : e.type === 'input_requested' || e.type === 'input_received'
      ? { type: e.type, interruptId: e.interruptId }
    : e.type === 'agent_output' || e.type === 'agent_completed'
      ? { type: e.type, text: e.text }
      : { type: e.type }) as RunMachineEvent;

function statechartBreach(events: readonly Event[]): string | undefined {
  let snap = initialRunSnapshot();
  for (const e of events) {
    const next = stepRun(snap, toMachine(e));
    if (!next) return `the run statechart refuses #${e.seq} ${e.type} in ${JSON.stringify(snap.value)}`;
    snap = next;
  }
  return snap.status === 'done' ? undefined : 'the run statechart is not done at the end of the log';
}

/** Every check of one run; empty when it holds. */
export function checkRun(f: RunFacts): Breach[] {
  const out: Breach[] = [];
  const add = (check: string, detail: string) => out.push({ check, detail });
  const g = grammarBreach(f.stored);
  if (g) add('grammar', g);
  const s = statechartBreach(f.stored);
  if (s) add('statechart', s);
  const bySeq = new Map(f.stored.map((e) => [e.seq, canonical(e)]));
  const terminal = f.stored.at(-1);

  for (const v of f.views) {
    let last = 0;
    const seen = new Set<number>();
    let terminals = 0;
    for (const e of v.frames) {
      if (seen.has(e.seq)) add('each seq once', `${v.client} got seq ${e.seq} twice`);
      else if (e.seq !== last + 1) add('in order', `${v.client} got seq ${e.seq} after ${last}`);
      seen.add(e.seq);
      last = Math.max(last, e.seq);
      if (TERMINAL.has(e.type)) terminals++;
      const stored = bySeq.get(e.seq);
      if (stored !== canonical(e)) add('shown = stored', `${v.client} was shown seq ${e.seq} ${e.type} unlike the stored event`);
    }
    if (terminals !== 1) add('one terminal event', `${v.client} got ${terminals} terminal events`);
    if (terminal && last !== terminal.seq) add('every seq', `${v.client} ended at seq ${last} of ${terminal.seq}`);
    // The answer continues what was shown: every piece this client saw is where it was in the answer.
    if (terminal?.type === 'agent_completed') {
      const shown = v.frames.filter((e) => e.type === 'agent_output').map((e) => String(e.text)).join('');
      if (!String(terminal.text).startsWith(shown)) add('answer begins with what was shown', `${v.client} was shown ${JSON.stringify(shown)}; the answer is ${JSON.stringify(terminal.text)}`);
    }
  }

  // Side effects: at most once per call, exactly once when its completion says ok; and a
  // logical effect (its key) at most once whatever call made it.
  const perCall = new Map<string, number>();
  const perKey = new Map<string, number>();
  for (const e of f.effects) {
    perCall.set(e.toolCallId, (perCall.get(e.toolCallId) ?? 0) + 1);
    perKey.set(e.key, (perKey.get(e.key) ?? 0) + 1);
  }
  for (const [id, n] of perCall) if (n > 1) add('side effect at most once', `tool call ${id} executed ${n} times`);
  for (const [key, n] of perKey) if (n > 1) add('side effect at most once', `effect ${key} happened ${n} times`);
  for (const e of f.stored) {
    if (e.type === 'tool_completed' && String(e.tool).startsWith('chaos_') && e.ok === true && perCall.get(String(e.toolCallId)) !== 1)
      add('ok effect exactly once', `tool_completed ok for ${String(e.toolCallId)}, executed ${perCall.get(String(e.toolCallId)) ?? 0} times`);
  }

  // A person's answers: each question answered at most once (exactly once when the run
  // completed), with what the person sent; and the run went on from the answer to its end.
  if (f.person) {
    for (const q of f.stored.filter((e) => e.type === 'input_requested')) {
      const answers = f.stored.filter((e) => e.type === 'input_received' && e.interruptId === q.interruptId);
      if (answers.length > 1) add('input received once', `question ${String(q.interruptId)} answered ${answers.length} times`);
      if (answers.length === 0 && terminal?.type === 'agent_completed') add('input received once', `question ${String(q.interruptId)} never answered, yet the run completed`);
      const sent = f.person.answers[q.kind === 'approval' ? 'approval' : 'input'];
      for (const a of answers) if (canonical(a.value) !== canonical(sent)) add('input received once', `question ${String(q.interruptId)} stored the answer ${canonical(a.value)}, the person sent ${canonical(sent)}`);
    }
    if (terminal?.type !== 'agent_completed') add('the answer continues', `the run ended with ${terminal?.type ?? 'nothing'}, not its answer`);
    else if (terminal.text !== f.person.answer) add('the answer continues', `the answer is ${JSON.stringify(terminal.text)}, expected ${JSON.stringify(f.person.answer)}`);
  }

  // Usage: the provider reports 1 input token per call; an estimate is never less. So a
  // completed LLM run reports at least as many input tokens as calls were made, exactly as many
  // when nothing was estimated.
  if (f.modelCalls !== undefined && terminal?.type === 'agent_completed') {
    const u = terminal.usage as { inputTokens?: number; estimated?: boolean } | undefined;
    const input = u?.inputTokens ?? 0;
    if (u?.estimated ? input < f.modelCalls : input !== f.modelCalls)
      add('usage counts every model call', `${f.modelCalls} model calls, usage ${JSON.stringify(u ?? null)}`);
  }
  return out;
}
