// The live feed of the statechart visualizer. XState's inspection events of the session actors
// (src/session/hub.ts) and of the run actors (one per attempt executing here, src/runs/recorder.ts)
// land here; the feed keeps only the latest state of each actor and, at most every `intervalMs`,
// sends each debug socket one message: the counts of actors per state (all of them) and the
// first `maxActors` actors of each kind one by one. 1,000 transitions in an interval cost one
// message, and a slow page skips messages instead of queueing them (each message is complete).
import type { InspectionEvent } from 'xstate';
import type { RunInspector } from '../runs/recorder.js';
import { activeStateIds } from './graph.js';

export type ActorKind = 'session' | 'run';
const KINDS: ActorKind[] = ['session', 'run'];

export interface ActorView {
  kind: ActorKind;
  id: string;
  /** The machine id (`run`, `session`): which diagram to highlight. */
  machine: string;
  /** A readable hint: the agent of a run, the user of a session. */
  label: string;
  value: unknown;
  /** Active state ids, outermost first (`run.running`, `run.running.working`). */
  states: string[];
  status: 'active' | 'done' | 'stopped';
  lastEvent: string | undefined;
  /** The last event the run statechart refused (never stored, the run failed). */
  refused: { event: string; state: unknown; at: number } | undefined;
  /** Transitions seen: a page can tell two views of the same state apart. */
  changes: number;
  startedAt: number;
  updatedAt: number;
}

export interface FeedMessage {
  type: 'live';
  at: number;
  intervalMs: number;
  /** Actors per kind: live now, and finished ones still shown. */
  totals: Record<ActorKind, { active: number; finished: number; listed: number }>;
  /** Actors in each state id, over every actor the feed holds. */
  counts: Record<string, number>;
  actors: ActorView[];
  /** Refused events since the feed started. */
  refusedTotal: number;
  /** The actor the page follows, when it is not among `actors`. */
  focus?: ActorView;
}

export interface FeedSubscriber {
  /** False when the socket cannot take more now: the message is skipped, the next one is complete. */
  send(text: string): boolean;
  focus: string | undefined;
  /** Ends the page's socket (the server is stopping). */
  close(): void;
}

/** Finished actors kept on view per kind, most recent first. */
const FINISHED_KEPT = 100;

export class DebugFeed implements RunInspector {
  private readonly actors = new Map<string, ActorView>();
  private readonly finished: Record<ActorKind, string[]> = { session: [], run: [] };
  private readonly subscribers = new Set<FeedSubscriber>();
  private dirty = true;
  private timer: NodeJS.Timeout | undefined;
  private refusedTotal = 0;
  readonly stats = { inspectionEvents: 0, messages: 0, bytes: 0, skipped: 0 };

  constructor(
    readonly intervalMs: number,
    readonly maxActors: number,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const s of [...this.subscribers]) s.close();
    this.subscribers.clear();
  }

  /** Session actors: an inspection observer per user's actor. */
  inspectSession(userId: string): (ev: InspectionEvent) => void {
    return this.observer('session', userId, 'session', userId);
  }

  inspect(run: { runId: string; userId: string; agent: string; attempt: number }): (ev: InspectionEvent) => void {
    return this.observer('run', run.runId, 'run', `${run.agent} (attempt ${run.attempt})`);
  }

  refused(runId: string, eventType: string, state: unknown): void {
    this.refusedTotal++;
    const a = this.actors.get(key('run', runId));
    if (a) {
      a.refused = { event: eventType, state, at: this.now() };
      a.updatedAt = this.now();
    }
    this.dirty = true;
  }

  detached(runId: string): void {
    const a = this.actors.get(key('run', runId));
    if (a && a.status === 'active') this.finish(a, 'stopped');
  }

  private observer(kind: ActorKind, id: string, machine: string, label: string) {
    const k = key(kind, id);
    return (ev: InspectionEvent) => {
      this.stats.inspectionEvents++;
      if (ev.type === '@xstate.actor') {
        // A new actor for this id (a user reconnected, a run taken over): it starts afresh.
        this.dropFinished(kind, k);
        const t = this.now();
        this.actors.set(k, {
          kind, id, machine, label, value: undefined, states: [], status: 'active',
          lastEvent: undefined, refused: undefined, changes: 0, startedAt: t, updatedAt: t,
        });
        this.dirty = true;
        return;
      }
      if (ev.type !== '@xstate.snapshot') return;
      const a = this.actors.get(k);
      if (!a || a.status !== 'active') return;
      const snap = ev.snapshot as { value?: unknown; status?: string };
      a.value = snap.value;
      a.states = activeStateIds(machine, snap.value);
      a.lastEvent = ev.event.type;
      a.changes++;
      a.updatedAt = this.now();
      this.dirty = true;
      if (snap.status === 'done') this.finish(a, 'done');
    };
  }

  private finish(a: ActorView, status: 'done' | 'stopped'): void {
    a.status = status;
    a.updatedAt = this.now();
    const k = key(a.kind, a.id);
    const list = this.finished[a.kind];
    list.unshift(k);
    while (list.length > FINISHED_KEPT) this.actors.delete(list.pop() as string);
    this.dirty = true;
  }

  private dropFinished(kind: ActorKind, k: string): void {
    const list = this.finished[kind];
    const i = list.indexOf(k);
    if (i >= 0) list.splice(i, 1);
  }

  /** Adds a page; it gets the whole view at once. Returns the unsubscribe function. */
  subscribe(s: FeedSubscriber): () => void {
    this.subscribers.add(s);
    this.sendTo(s, this.view());
    return () => this.subscribers.delete(s);
  }

  /** The page follows another actor: it gets a message with it at once. */
  refocus(s: FeedSubscriber, id: string | undefined): void {
    s.focus = id;
    if (this.subscribers.has(s)) this.sendTo(s, this.view());
  }

  get size(): number {
    return this.actors.size;
  }

  /** Sends the latest view if anything changed since the last one (called by the timer). */
  flush(): void {
    if (!this.dirty || this.subscribers.size === 0) return;
    this.dirty = false;
    const v = this.view();
    for (const s of this.subscribers) this.sendTo(s, v);
  }

  private sendTo(s: FeedSubscriber, v: { message: FeedMessage; json: string; listed: Set<string> }): void {
    let text = v.json;
    const f = s.focus ? (this.actors.get(key('run', s.focus)) ?? this.actors.get(key('session', s.focus))) : undefined;
    if (f && !v.listed.has(key(f.kind, f.id))) text = `${text.slice(0, -1)},"focus":${JSON.stringify(f)}}`;
    if (s.send(text)) {
      this.stats.messages++;
      this.stats.bytes += text.length;
    } else this.stats.skipped++;
  }

  /** One pass over every actor: counts per state, the first `maxActors` of each kind listed. */
  view(): { message: FeedMessage; json: string; listed: Set<string> } {
    const counts: Record<string, number> = {};
    const totals = { session: { active: 0, finished: 0, listed: 0 }, run: { active: 0, finished: 0, listed: 0 } };
    const active: Record<ActorKind, ActorView[]> = { session: [], run: [] };
    for (const a of this.actors.values()) {
      for (const s of a.states) counts[s] = (counts[s] ?? 0) + 1;
      if (a.status === 'active') {
        totals[a.kind].active++;
        if (active[a.kind].length < this.maxActors) active[a.kind].push(a);
      } else totals[a.kind].finished++;
    }
    const actors: ActorView[] = [];
    const listed = new Set<string>();
    for (const kind of KINDS) {
      // Live actors first (oldest first, so the list stays still), then the latest finished.
      const list = [...active[kind]];
      for (const k of this.finished[kind]) {
        if (list.length >= this.maxActors) break;
        const a = this.actors.get(k);
        if (a) list.push(a);
      }
      totals[kind].listed = list.length;
      for (const a of list) {
        actors.push(a);
        listed.add(key(a.kind, a.id));
      }
    }
    const message: FeedMessage = { type: 'live', at: this.now(), intervalMs: this.intervalMs, totals, counts, actors, refusedTotal: this.refusedTotal };
    return { message, json: JSON.stringify(message), listed };
  }
}

const key = (kind: ActorKind, id: string) => `${kind}:${id}`;
