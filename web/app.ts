// The chat page: log in, pick or start a thread, ask, and watch the run as it happens. Built by
// esbuild from this file and served by agentwire at `/`; it talks to the same HTTP and socket API
// as any client, through the client SDK.
import { isTerminal } from '../src/protocol/wire.js';
import { AgentwireClient, type ConnectionState, type Run, type RunEvent } from '../client/src/index.js';
import { renderMarkdown } from './markdown.js';
import { $, el } from './dom.js';

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

const api = async <T>(path: string, init: RequestInit = {}, token?: string): Promise<T> => {
  const res = await fetch(path, { ...init, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const body = (await res.json().catch(() => ({}))) as T & { error?: { code?: string; message: string } };
  if (!res.ok) throw new ApiError(res.status, body.error?.code, body.error?.message ?? `HTTP ${res.status}`, Number(res.headers.get('retry-after')) || undefined);
  return body;
};

// A developer can pick another agent with ?agent=name; the server's default answers otherwise.
const agent = new URLSearchParams(location.search).get('agent') ?? undefined;
let token = sessionStorage.getItem('agentwire.token') ?? '';
let client: AgentwireClient | undefined;
let threadId: string | undefined;
let current: Run | undefined;
/** The drawn box of each run this page follows live: reopening its thread shows the same box. */
const liveRuns = new Map<string, HTMLElement>();


function showConnection(state: ConnectionState): void {
  const label = { idle: 'Not connected', connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', closed: 'Disconnected' }[state];
  const c = $('connection');
  c.textContent = label;
  c.className = `connection ${state}`;
}

// ---- signing in ---------------------------------------------------------------------------

/** The server's own rules (src/auth/service.ts), checked here first so a mistake reads plainly. */
function credentialProblem(username: string, password: string): string | undefined {
  if (username.length < 3 || username.length > 64) return 'Usernames have 3 to 64 characters.';
  if (!/^[A-Za-z0-9_.@-]+$/.test(username)) return 'Usernames use letters, digits and _ . @ - only.';
  if (password.length < 8) return 'Passwords need at least 8 characters.';
  if (password.length > 256) return 'Passwords have at most 256 characters.';
  return undefined;
}

function authMessage(err: unknown, register: boolean): string {
  if (!(err instanceof ApiError)) return 'The server cannot be reached: try again in a moment.';
  if (err.status === 409) return 'That username is taken: pick another, or log in.';
  if (err.status === 401) return 'Wrong username or password.';
  if (err.status === 403 && register) return 'This server does not take new accounts (ALLOW_REGISTRATION=false).';
  if (err.status === 429) return `Too many attempts: try again${err.retryAfterS ? ` in ${err.retryAfterS} s` : ' later'}.`;
  if (err.status === 400) return 'The server refused these details: check the username and password rules above.';
  return `The server could not ${register ? 'create the account' : 'log you in'} (${err.message}).`;
}

async function authenticate(register: boolean): Promise<void> {
  const username = $<HTMLInputElement>('username').value.trim();
  const password = $<HTMLInputElement>('password').value;
  const problem = credentialProblem(username, password);
  $('auth-error').textContent = problem ?? '';
  if (problem) return;
  try {
    if (register) await api('/v1/auth/register', { method: 'POST', body: JSON.stringify({ username, password }) });
    const r = await api<{ token: string }>('/v1/auth/login', { method: 'POST', body: JSON.stringify({ username, password }) });
    token = r.token;
    sessionStorage.setItem('agentwire.token', token);
    await start();
  } catch (err) {
    $('auth-error').textContent = authMessage(err, register);
  }
}

function signedOut(message = ''): void {
  sessionStorage.removeItem('agentwire.token');
  token = '';
  $('auth').hidden = false;
  $('app').hidden = true;
  $('logout').hidden = true;
  $('threads-toggle').hidden = true;
  $('auth-error').textContent = message;
}

/**
 * Whether the server lets a page at this address open sockets. The server writes its list into
 * the page; a browser never says why an upgrade was refused, so this is how the page can tell.
 */
function originRefusal(): string | undefined {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="agentwire-allowed-origins"]')?.content.trim();
  if (!meta) return undefined;
  const allowed = meta.split(/\s+/);
  if (allowed.includes('*') || allowed.includes(location.origin)) return undefined;
  return `This server does not accept sockets from pages at ${location.origin}, so nothing can be asked from here. Open the page at ${allowed.join(' or ')}, or start the server with ALLOWED_ORIGINS=${location.origin} (comma-separated, with any others).`;
}

async function start(): Promise<void> {
  // The token is checked over HTTP first: a stale one must not leave the page connecting forever.
  try {
    await loadThreads();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signedOut('Your session has ended: log in again.');
    throw err;
  }
  $('auth').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('threads-toggle').hidden = false;
  const refusal = originRefusal();
  if (refusal) {
    $('socket-problem').textContent = refusal;
    $('socket-problem').hidden = false;
    $('connection').textContent = 'Refused: origin not allowed';
    $('connection').className = 'connection refused';
    $<HTMLButtonElement>('send').disabled = true;
    return;
  }
  client = new AgentwireClient({ url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`, token });
  client.onStateChange(showConnection);
  await client.connect();
}

// ---- threads ------------------------------------------------------------------------------

function showThreads(open: boolean): void {
  $('app').classList.toggle('threads-open', open);
  $('threads-toggle').setAttribute('aria-expanded', String(open));
}

async function loadThreads(): Promise<void> {
  const { threads } = await api<{ threads: Array<{ threadId: string; title: string }> }>('/v1/threads?limit=50', {}, token);
  const list = $('thread-list');
  list.replaceChildren(
    ...threads.map((t) => {
      const li = el('li');
      const b = el('button', undefined, t.title);
      b.setAttribute('aria-current', String(t.threadId === threadId));
      b.onclick = () => {
        showThreads(false);
        void openThread(t.threadId);
      };
      li.append(b);
      return li;
    }),
  );
}

interface ThreadJson {
  messages: Array<{ runId: string | null; role: string; content: string }>;
  runs: Array<{ runId: string; input: { text?: string } }>;
}

/** Shows a thread as it happened: each question, then its run replayed from its stored events. */
async function openThread(id: string): Promise<void> {
  threadId = id;
  const t = await api<ThreadJson>(`/v1/threads/${id}`, {}, token);
  const box = $('messages');
  box.replaceChildren();
  for (const r of t.runs) {
    const question = t.messages.find((m) => m.runId === r.runId && m.role === 'user')?.content ?? r.input.text ?? '';
    box.append(userMessage(question));
    const live = liveRuns.get(r.runId);
    if (live) {
      box.append(live);
      continue;
    }
    const answer = t.messages.find((m) => m.runId === r.runId && m.role === 'assistant')?.content;
    await replayRun(r.runId, id, answer);
    if (threadId !== id) return; // another thread was opened meanwhile
  }
  box.scrollTop = box.scrollHeight;
  await loadThreads();
}

/** A run's stored events, all of them (the endpoint pages by 1,000). */
async function storedEvents(runId: string): Promise<RunEvent[]> {
  const all: RunEvent[] = [];
  for (;;) {
    const { events } = await api<{ events: RunEvent[] }>(`/v1/runs/${runId}/events?after=${all.at(-1)?.seq ?? 0}&limit=1000`, {}, token);
    all.push(...events);
    if (events.length < 1000) return all;
  }
}

async function replayRun(runId: string, thread: string, answer: string | undefined): Promise<void> {
  const events = await storedEvents(runId);
  if (events.length === 0 && answer !== undefined) {
    $('messages').append(answerMessage(answer));
    return;
  }
  const view = runView(runId);
  for (const e of events) view.add(e);
  // Still under way (or not started): follow it from where the stored events end.
  if (!events.some((e) => isTerminal(e.type)) && client) {
    void follow(view, client.follow(runId, thread, events.at(-1)?.seq ?? 0));
  }
}

function userMessage(text: string): HTMLElement {
  const m = el('div', 'msg user');
  m.append(el('div', 'bubble', text));
  return m;
}

function answerMessage(markdown: string): HTMLElement {
  const m = el('div', 'msg');
  const run = el('div', 'run');
  const answer = el('div', 'answer');
  answer.innerHTML = renderMarkdown(markdown);
  run.append(answer);
  m.append(run);
  return m;
}

// ---- runs ---------------------------------------------------------------------------------

interface RunView {
  runId: string;
  element: HTMLElement;
  add(e: RunEvent): void;
}

/** One run's box, appended to the conversation: reasoning lines, a card per tool call, the answer. */
function runView(runId: string): RunView {
  const m = el('div', 'msg');
  const box = el('div', 'run');
  box.dataset.run = runId;
  box.setAttribute('aria-live', 'polite');
  const stream = el('div', 'stream');
  m.append(box);
  $('messages').append(m);
  const tools = new Map<string, HTMLElement>();
  return {
    runId,
    element: m,
    add(e) {
      if (e.type === 'agent_output' && !stream.isConnected) box.append(stream);
      const row = render(e, tools, stream);
      if (row) {
        // Every event leaves one element tagged with its seq (tests count them).
        row.dataset.seq = String(e.seq);
        row.dataset.type = e.type;
        if (!row.isConnected) box.append(row);
      }
      if (isTerminal(e.type) && !box.querySelector('.rating')) box.append(ratingBar(runId));
    },
  };
}

/** Draws a run's events as they arrive, until its end. */
async function follow(view: RunView, run: Run): Promise<void> {
  liveRuns.set(view.runId, view.element);
  try {
    for await (const e of run) {
      view.add(e);
      if (view.element.isConnected) $('messages').scrollTop = $('messages').scrollHeight;
    }
  } finally {
    liveRuns.delete(view.runId);
  }
}

function render(e: RunEvent, tools: Map<string, HTMLElement>, stream: HTMLElement): HTMLElement | undefined {
  switch (e.type) {
    case 'agent_started':
      return el('p', 'meta', `${e.agent} started`);
    case 'agent_thinking':
      return el('p', 'thinking', e.text);
    case 'tool_executing': {
      const card = el('details', 'tool');
      card.append(el('summary', undefined, `⚙ ${e.tool} …`), el('pre', 'args', JSON.stringify(e.args, null, 2)));
      tools.set(e.toolCallId, card);
      return card;
    }
    case 'tool_completed': {
      const card = tools.get(e.toolCallId);
      if (card) {
        card.querySelector('summary')!.textContent = `⚙ ${e.tool} ${e.ok ? '✓' : '✗'} (${e.durationMs} ms)`;
        card.classList.toggle('failed', !e.ok);
        card.append(el('pre', 'result', JSON.stringify(e.ok ? e.result : e.error, null, 2)));
      }
      const marker = el('span', 'meta');
      marker.hidden = true;
      return marker;
    }
    case 'agent_output': {
      const piece = el('span', 'piece', e.text);
      stream.append(piece);
      return piece;
    }
    case 'agent_completed': {
      // The rendered answer replaces the streamed text (kept, hidden, for what was delivered).
      stream.hidden = true;
      const answer = el('div', 'answer');
      answer.innerHTML = renderMarkdown(e.text);
      return answer;
    }
    case 'input_requested':
      return questionCard(e);
    case 'input_received': {
      const card = document.querySelector<HTMLElement>(`.question[data-interrupt="${CSS.escape(e.interruptId)}"]`);
      if (card) settleQuestion(card, e.value);
      const marker = el('span', 'meta');
      marker.hidden = true;
      return marker;
    }
    case 'agent_error':
      return el('p', 'status-error', `The run failed: ${e.message}`);
    case 'agent_cancelled':
      return el('p', 'meta', `Cancelled: ${e.reason}`);
  }
  return undefined;
}

// ---- questions and ratings ------------------------------------------------------------------

/** The run asks its user: the prompt, the call an approval is for, and approve/deny or an input box. */
function questionCard(e: Extract<RunEvent, { type: 'input_requested' }>): HTMLElement {
  const card = el('form', 'question');
  card.dataset.interrupt = e.interruptId;
  card.append(el('p', 'prompt', e.prompt));
  if (e.tool) card.append(el('p', 'meta', `Tool: ${e.tool}`), el('pre', 'args', JSON.stringify(e.args, null, 2)));
  const error = el('p', 'error');
  error.setAttribute('role', 'alert');
  const send = (value: unknown) => {
    error.textContent = '';
    for (const b of card.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input, textarea')) b.disabled = true;
    const run = client?.run(e.runId);
    const answered = run?.waiting?.interruptId === e.interruptId ? run.answer(value) : Promise.resolve(client?.send({ type: 'provide_input', runId: e.runId, interruptId: e.interruptId, value }));
    answered.catch((err: unknown) => {
      error.textContent = err instanceof Error ? err.message : 'the answer was refused';
      for (const b of card.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input, textarea')) b.disabled = false;
    });
  };
  if (e.kind === 'approval') {
    const approve = el('button', 'approve', 'Approve');
    approve.setAttribute('type', 'button');
    const deny = el('button', 'secondary deny', 'Deny');
    deny.setAttribute('type', 'button');
    approve.addEventListener('click', () => send({ approved: true }));
    deny.addEventListener('click', () => send({ approved: false }));
    card.append(el('div', 'row', undefined), error);
    card.querySelector('.row')!.append(approve, deny);
  } else {
    const input = el('textarea', 'answer-input') as HTMLTextAreaElement;
    input.rows = 2;
    input.setAttribute('aria-label', e.prompt);
    input.placeholder = e.schema ? 'JSON, e.g. {"…": …}' : 'Your answer';
    const submit = el('button', 'submit-answer', 'Answer');
    submit.setAttribute('type', 'submit');
    card.addEventListener('submit', (ev) => {
      ev.preventDefault();
      // With a schema the answer is JSON; without, plain text is a JSON string.
      let value: unknown = input.value;
      if (e.schema) {
        try {
          value = JSON.parse(input.value);
        } catch {
          error.textContent = 'The answer must be JSON.';
          return;
        }
      }
      send(value);
    });
    card.append(input, submit, error);
  }
  return card;
}

function settleQuestion(card: HTMLElement, value: unknown): void {
  for (const b of card.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input, textarea')) b.remove();
  const v = value as { approved?: unknown; reason?: unknown };
  const text = typeof v === 'object' && v !== null && typeof v.approved === 'boolean' ? (v.approved ? 'Approved' : `Denied${typeof v.reason === 'string' ? `: ${v.reason}` : ''}`) : `Answered: ${JSON.stringify(value)}`;
  card.classList.add('answered');
  card.append(el('p', 'meta answered-as', text));
}

/** Thumbs up or down, with an optional comment, under a finished run (changeable). */
function ratingBar(runId: string): HTMLElement {
  const bar = el('div', 'rating');
  bar.dataset.run = runId;
  const comment = el('input', 'rating-comment') as HTMLInputElement;
  comment.placeholder = 'Comment (optional)';
  comment.maxLength = 2000;
  comment.setAttribute('aria-label', 'Comment on this answer');
  const status = el('span', 'meta rating-status');
  status.setAttribute('role', 'status');
  const thumb = (rating: 'up' | 'down', label: string) => {
    const b = el('button', `secondary thumb thumb-${rating}`, label);
    b.setAttribute('type', 'button');
    b.setAttribute('aria-label', rating === 'up' ? 'Good answer' : 'Bad answer');
    b.addEventListener('click', () => {
      const body = { rating, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) };
      api(`/v1/runs/${runId}/feedback`, { method: 'POST', body: JSON.stringify(body) }, token)
        .then(() => {
          status.textContent = rating === 'up' ? 'Rated 👍' : 'Rated 👎';
          bar.dataset.rating = rating;
        })
        .catch((err: unknown) => (status.textContent = err instanceof Error ? err.message : 'rating failed'));
    });
    return b;
  };
  bar.append(thumb('up', '👍'), thumb('down', '👎'), comment, status);
  return bar;
}

async function ask(text: string): Promise<void> {
  if (!client) return;
  $('messages').append(userMessage(text));
  $<HTMLButtonElement>('send').disabled = true;
  $('cancel').hidden = false;
  try {
    const run = await client.ask(text, { ...(threadId ? { threadId } : {}), ...(agent ? { agent } : {}), onBusy: 'enqueue' });
    current = run;
    const firstOfThread = !threadId;
    threadId = run.threadId;
    if (firstOfThread) void loadThreads();
    await follow(runView(run.runId), run);
  } catch (err) {
    $('messages').append(el('p', 'status-error', err instanceof Error ? err.message : 'failed'));
  } finally {
    current = undefined;
    $<HTMLButtonElement>('send').disabled = false;
    $('cancel').hidden = true;
  }
}

// ---- wiring -------------------------------------------------------------------------------

$('auth-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void authenticate(false);
});
$('register').addEventListener('click', () => void authenticate(true));
$('ask-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const q = $<HTMLTextAreaElement>('question');
  const text = q.value.trim();
  if (!text) return;
  q.value = '';
  void ask(text);
});
$('question').addEventListener('keydown', (ev) => {
  if ((ev as KeyboardEvent).key === 'Enter' && !(ev as KeyboardEvent).shiftKey) {
    ev.preventDefault();
    $('ask-form').dispatchEvent(new Event('submit', { cancelable: true }));
  }
});
$('cancel').addEventListener('click', () => current?.cancel());
$('threads-toggle').addEventListener('click', () => showThreads(!$('app').classList.contains('threads-open')));
$('new-thread').addEventListener('click', () => {
  threadId = undefined;
  showThreads(false);
  $('messages').replaceChildren();
  void loadThreads();
});
$('logout').addEventListener('click', () => {
  client?.close();
  // Revoked on the server (every token and socket of this user), not only forgotten here.
  const revoke = token ? api('/v1/auth/logout', { method: 'POST' }, token).catch(() => undefined) : Promise.resolve();
  void revoke.then(() => {
    sessionStorage.removeItem('agentwire.token');
    location.reload();
  });
});

if (token) void start().catch(() => signedOut());
