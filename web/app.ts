// The chat page: log in, pick or start a thread, ask, and watch the run as it happens. Built by
// esbuild from this file and served by agentwire at `/`; it talks to the same HTTP and socket API
// as any client, through the client SDK.
import { AgentwireClient, type ConnectionState, type Run, type RunEvent } from '../client/src/index.js';
import { renderMarkdown } from './markdown.js';
import { $, el } from './dom.js';

const api = async <T>(path: string, init: RequestInit = {}, token?: string): Promise<T> => {
  const res = await fetch(path, { ...init, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const body = (await res.json()) as T & { error?: { message: string } };
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  return body;
};

// A developer can pick another agent with ?agent=name; the server's default answers otherwise.
const agent = new URLSearchParams(location.search).get('agent') ?? undefined;
let token = sessionStorage.getItem('agentwire.token') ?? '';
let client: AgentwireClient | undefined;
let threadId: string | undefined;
let current: Run | undefined;

function showConnection(state: ConnectionState): void {
  const label = { idle: 'Not connected', connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', closed: 'Disconnected' }[state];
  const c = $('connection');
  c.textContent = label;
  c.className = `connection ${state}`;
}

async function authenticate(register: boolean): Promise<void> {
  const username = $<HTMLInputElement>('username').value.trim();
  const password = $<HTMLInputElement>('password').value;
  $('auth-error').textContent = '';
  try {
    if (register) await api('/v1/auth/register', { method: 'POST', body: JSON.stringify({ username, password }) });
    const r = await api<{ token: string }>('/v1/auth/login', { method: 'POST', body: JSON.stringify({ username, password }) });
    token = r.token;
    sessionStorage.setItem('agentwire.token', token);
    await start();
  } catch (err) {
    $('auth-error').textContent = err instanceof Error ? err.message : 'failed';
  }
}

async function start(): Promise<void> {
  $('auth').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  client = new AgentwireClient({ url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`, token });
  client.onStateChange(showConnection);
  await client.connect();
  await loadThreads();
}

async function loadThreads(): Promise<void> {
  const { threads } = await api<{ threads: Array<{ threadId: string; title: string }> }>('/v1/threads?limit=50', {}, token);
  const list = $('thread-list');
  list.replaceChildren(
    ...threads.map((t) => {
      const li = el('li');
      const b = el('button', undefined, t.title);
      b.setAttribute('aria-current', String(t.threadId === threadId));
      b.onclick = () => void openThread(t.threadId);
      li.append(b);
      return li;
    }),
  );
}

async function openThread(id: string): Promise<void> {
  threadId = id;
  const t = await api<{ messages: Array<{ role: string; content: string }> }>(`/v1/threads/${id}`, {}, token);
  const box = $('messages');
  box.replaceChildren(...t.messages.map((m) => (m.role === 'user' ? userMessage(m.content) : answerMessage(m.content))));
  await loadThreads();
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

/** Draws one run as its events arrive: reasoning lines, a card per tool call, the streamed answer, the end. */
async function showRun(run: Run): Promise<void> {
  const m = el('div', 'msg');
  const box = el('div', 'run');
  box.dataset.run = run.runId;
  box.setAttribute('aria-live', 'polite');
  const stream = el('div', 'stream');
  m.append(box);
  $('messages').append(m);
  const tools = new Map<string, HTMLElement>();
  for await (const e of run) {
    if (e.type === 'agent_output' && !stream.isConnected) box.append(stream);
    const row = render(e, tools, stream);
    if (row) {
      // Every event leaves one element tagged with its seq (tests count them).
      row.dataset.seq = String(e.seq);
      row.dataset.type = e.type;
      if (!row.isConnected) box.append(row);
    }
    $('messages').scrollTop = $('messages').scrollHeight;
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
    case 'agent_error':
      return el('p', 'status-error', `The run failed: ${e.message}`);
    case 'agent_cancelled':
      return el('p', 'meta', `Cancelled: ${e.reason}`);
  }
  return undefined;
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
    await showRun(run);
  } catch (err) {
    $('messages').append(el('p', 'status-error', err instanceof Error ? err.message : 'failed'));
  } finally {
    current = undefined;
    $<HTMLButtonElement>('send').disabled = false;
    $('cancel').hidden = true;
  }
}

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
$('new-thread').addEventListener('click', () => {
  threadId = undefined;
  $('messages').replaceChildren();
  void loadThreads();
});
$('logout').addEventListener('click', () => {
  sessionStorage.removeItem('agentwire.token');
  client?.close();
  location.reload();
});

if (token) void start().catch(() => sessionStorage.removeItem('agentwire.token'));
