// The statechart visualizer (served at /debug when DEBUG_ENABLED=true; see docs/visualizer.md).
// Live: every machine drawn from its definition, the number of actors in each state, and one
// actor followed as its highlight moves. Replay: a stored run stepped through event by event.
import type { ActorView, FeedMessage } from '../src/debug/feed.js';
import type { MachineGraph } from '../src/debug/graph.js';
import type { Replay } from '../src/debug/replay.js';
import { drawMachine, type Diagram } from './diagram.js';
import { $, el } from '../web/dom.js';

const api = async <T>(path: string): Promise<T> => {
  const res = await fetch(path);
  const body = (await res.json()) as T & { error?: { message: string } };
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  return body;
};
/** `{ running: 'working' }` → `running.working`. */
const valueText = (v: unknown): string =>
  typeof v === 'string' ? v : v && typeof v === 'object' ? Object.entries(v).map(([k, c]) => `${k}.${valueText(c)}`).join(', ') : '–';
const button = (text: string, onClick: () => void) => {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'link';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
};
const short = (id: string) => (id.length > 12 ? `${id.slice(0, 8)}…` : id);

/** Counters the measurement script reads (bench/debug-feed.ts). */
const stats = { messages: 0, bytes: 0, renders: 0, renderMs: 0, renderMsMax: 0 };
(window as unknown as { __feed: typeof stats }).__feed = stats;

const live = new Map<string, Diagram>();
let replayDiagram: Diagram | undefined;

// ---- live ---------------------------------------------------------------------------------
let socket: WebSocket | undefined;
let latest: FeedMessage | undefined;
let scheduled = false;
let focusId: string | undefined;
let lastTrail = '';

function connect(): void {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/debug/ws`);
  socket = ws;
  ws.onopen = () => {
    $('feed-status').textContent = 'Live';
    $('feed-status').className = 'status open';
    if (focusId) ws.send(JSON.stringify({ type: 'focus', id: focusId }));
  };
  ws.onmessage = (m) => {
    stats.messages++;
    stats.bytes += (m.data as string).length;
    const msg = JSON.parse(m.data as string) as FeedMessage | { type: 'error' };
    if (msg.type !== 'live') return;
    latest = msg;
    // Messages arrive at most every few hundred ms; drawing waits for the next frame anyway.
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(render);
    }
  };
  ws.onclose = () => {
    $('feed-status').textContent = 'Disconnected, retrying…';
    $('feed-status').className = 'status closed';
    setTimeout(connect, 1000);
  };
}

function follow(id: string): void {
  focusId = id;
  lastTrail = '';
  $('trail').replaceChildren();
  $('focus').hidden = false;
  $('focus-id').textContent = id;
  socket?.send(JSON.stringify({ type: 'focus', id }));
}

function actorRows(tbody: HTMLElement, actors: ActorView[]): void {
  const frag = document.createDocumentFragment();
  for (const a of actors) {
    const tr = el('tr', `actor ${a.status}${a.id === focusId ? ' followed' : ''}${a.refused ? ' has-refused' : ''}`);
    tr.dataset.actor = a.id;
    tr.dataset.state = valueText(a.value);
    const who = el('td');
    // The whole row follows the actor (a click on the tbody); the button is there for the keyboard.
    const b = button(short(a.id), () => undefined);
    b.title = `${a.id} (${a.label})`;
    who.append(b);
    tr.append(who, el('td', 'state', `${valueText(a.value)}${a.status === 'active' ? '' : ` (${a.status})`}`), el('td', 'muted', a.refused ? `refused ${a.refused.event}` : (a.lastEvent ?? '')));
    frag.append(tr);
  }
  tbody.replaceChildren(frag);
}

function render(): void {
  const t0 = performance.now();
  draw();
  const ms = performance.now() - t0;
  stats.renderMs += ms;
  stats.renderMsMax = Math.max(stats.renderMsMax, ms);
}

function draw(): void {
  scheduled = false;
  const msg = latest;
  if (!msg) return;
  stats.renders++;
  for (const d of live.values()) d.counts(msg.counts);
  const t = msg.totals;
  $('totals').textContent = `${t.run.active} live runs, ${t.session.active} live sessions (listing ${t.run.listed} and ${t.session.listed}; the diagrams count all). Refused events: ${msg.refusedTotal}.`;
  actorRows($('runs'), msg.actors.filter((a) => a.kind === 'run'));
  actorRows($('sessions'), msg.actors.filter((a) => a.kind === 'session'));
  const f = focusId ? (msg.actors.find((a) => a.id === focusId) ?? (msg.focus?.id === focusId ? msg.focus : undefined)) : undefined;
  for (const [name, d] of live) d.highlight(f && f.machine === name ? f.states : []);
  if (f) {
    $('focus-state').textContent = `${valueText(f.value)}${f.status === 'active' ? '' : ` (${f.status})`}`;
    const r = $('focus-refused');
    r.hidden = !f.refused;
    r.textContent = f.refused ? `refused ${f.refused.event} in ${valueText(f.refused.state)}` : '';
    const leaf = valueText(f.value);
    if (leaf !== lastTrail) {
      lastTrail = leaf;
      const li = el('li', '', leaf);
      li.dataset.state = leaf;
      $('trail').append(li);
    }
  }
}

// ---- replay -------------------------------------------------------------------------------
let replay: Replay | undefined;
let pos = -1;

async function openRun(id: string): Promise<void> {
  $('replay-error').textContent = '';
  try {
    const r = await api<{ run: { id: string; agent: string; status: string; createdAt: string; attempt: number }; truncated: boolean; replay: Replay; rating?: { rating: 'up' | 'down'; comment?: string } }>(
      `/debug/api/runs/${encodeURIComponent(id)}`,
    );
    replay = r.replay;
    $('replay-panel').hidden = false;
    $('replay-run').textContent = `Run ${r.run.id} · ${r.run.agent} · ${r.run.status} · ${r.replay.steps.length} events · refused ${r.replay.refused}${r.truncated ? ' · first 10,000 events only' : ''}${r.rating ? ` · rated ${r.rating.rating === 'up' ? '👍' : '👎'}${r.rating.comment ? ` “${r.rating.comment}”` : ''}` : ''}`;
    const list = $('steps');
    list.replaceChildren(
      ...r.replay.steps.map((s, i) => {
        const li = el('li', s.accepted ? 'step' : 'step refused');
        li.dataset.seq = String(s.seq);
        // The list draws no numbers of its own: the event's seq is the number.
        const b = button(`${s.seq}. ${s.type}${s.accepted ? '' : ' (refused)'}`, () => go(i));
        li.append(b, el('span', 'muted', ` +${s.sincePrevMs} ms`));
        return li;
      }),
    );
    history.replaceState(null, '', `#run=${r.run.id}`);
    go(-1);
  } catch (err) {
    $('replay-error').textContent = err instanceof Error ? err.message : 'failed';
  }
}

function go(i: number): void {
  if (!replay) return;
  pos = Math.max(-1, Math.min(i, replay.steps.length - 1));
  const step = pos >= 0 ? replay.steps[pos] : undefined;
  const before = pos > 0 ? replay.steps[pos - 1]!.states : replay.initial.states;
  replayDiagram?.highlight(step ? step.states : replay.initial.states);
  replayDiagram?.taken(step?.accepted ? step.type : undefined, before);
  $('step-pos').textContent = `${pos + 1} / ${replay.steps.length}`;
  $('step-pos').dataset.pos = String(pos + 1);
  for (const [j, li] of [...$('steps').children].entries()) li.classList.toggle('current', j === pos);
  const d = $('step-detail');
  d.replaceChildren();
  if (!step) {
    d.append(el('p', 'muted', `Before the first event: ${valueText(replay.initial.value)}`));
    return;
  }
  const head = el('p', step.accepted ? 'accepted' : 'refused', `${step.seq}. ${step.type}: ${step.accepted ? 'accepted' : 'refused by the run statechart'}`);
  head.dataset.verdict = step.accepted ? 'accepted' : 'refused';
  d.append(
    head,
    el('p', 'muted', `${step.ts} · +${step.sinceStartMs} ms from the first event · +${step.sincePrevMs} ms from the previous one`),
    el('p', '', `State after: ${valueText(step.value)}`),
    el('pre', 'payload', JSON.stringify(step.event, null, 2)),
  );
}

async function loadRecent(): Promise<void> {
  try {
    const { runs } = await api<{ runs: Array<{ id: string; agent: string; status: string; createdAt: string }> }>('/debug/api/runs?limit=30');
    $('recent').replaceChildren(
      ...runs.map((r) => {
        const li = el('li');
        const b = button(`${short(r.id)} ${r.agent} ${r.status}`, () => {
          $<HTMLInputElement>('run-id').value = r.id;
          void openRun(r.id);
        });
        b.title = `${r.id}, ${r.createdAt}`;
        li.append(b);
        return li;
      }),
    );
  } catch {
    // The list is a convenience; the id field still works.
  }
}

function show(view: 'live' | 'replay'): void {
  $('live').hidden = view !== 'live';
  $('replay').hidden = view !== 'replay';
  $('tab-live').setAttribute('aria-pressed', String(view === 'live'));
  $('tab-replay').setAttribute('aria-pressed', String(view === 'replay'));
  if (view === 'replay') void loadRecent();
}

// ---- start --------------------------------------------------------------------------------
async function main(): Promise<void> {
  const { machines } = await api<{ machines: Array<{ name: string; graph: MachineGraph }> }>('/debug/api/machines');
  const host = $('diagrams');
  for (const { name, graph } of machines) {
    const d = await drawMachine(graph);
    live.set(graph.id, d);
    const sec = el('section', 'machine');
    sec.dataset.machine = name;
    sec.append(el('h2', '', `${name} machine`), d.element);
    host.append(sec);
    if (graph.id === 'run') {
      replayDiagram = await drawMachine(graph);
      $('replay-diagram').append(replayDiagram.element);
    }
  }
  document.body.dataset.ready = 'true';
  connect();
  for (const id of ['runs', 'sessions']) {
    $(id).addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>('tr[data-actor]');
      if (row?.dataset.actor) follow(row.dataset.actor);
    });
  }
  $('tab-live').addEventListener('click', () => show('live'));
  $('tab-replay').addEventListener('click', () => show('replay'));
  $('sign-out').addEventListener('click', () => void fetch('/debug/session', { method: 'DELETE' }).then(() => location.assign('/debug/login')));
  $<HTMLFormElement>('replay-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void openRun($<HTMLInputElement>('run-id').value.trim());
  });
  $('step-first').addEventListener('click', () => go(-1));
  $('step-back').addEventListener('click', () => go(pos - 1));
  $('step-forward').addEventListener('click', () => go(pos + 1));
  $('step-last').addEventListener('click', () => go(replay ? replay.steps.length - 1 : -1));
  document.addEventListener('keydown', (e) => {
    if ($('replay').hidden || (e.target as HTMLElement).tagName === 'INPUT') return;
    if (e.key === 'ArrowRight') go(pos + 1);
    if (e.key === 'ArrowLeft') go(pos - 1);
  });
  const m = /^#run=([\w-]+)$/.exec(location.hash);
  if (m?.[1]) {
    show('replay');
    $<HTMLInputElement>('run-id').value = m[1];
    await openRun(m[1]);
  }
}

main().catch((err: unknown) => {
  $('feed-status').textContent = `Failed to start: ${err instanceof Error ? err.message : String(err)}`;
});
