// The AI SDK's own client (ai 6: DefaultChatTransport, readUIMessageStream, the chat class under
// useChat) against the UI message stream served from the event log (docs/front-ends.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';
import { AgentwireChatTransport } from '../../client/src/index.js';
import { Gates, pacedAgent } from '../helpers/agents.js';
import { FakeProvider } from '../helpers/llm-provider.js';
import { startProxy, type CuttableProxy } from '../helpers/proxy.js';
import { backends } from '../helpers/backends.js';
import { failingAgent, NodeChat, storedEvents, textOfMessage, toolsAgent } from '../helpers/front-ends.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const userMessage = (text: string, id = `u-${Math.random().toString(36).slice(2)}`): UIMessage => ({ id, role: 'user', parts: [{ type: 'text', text }] });

describe.each(backends)('AI SDK UI message stream (%s)', (backend) => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const gates = new Gates();
  const provider = new FakeProvider();
  let proxy: CuttableProxy;
  const transport = (user: TestUser, agent?: string) =>
    new DefaultChatTransport<UIMessage>({ api: `${server.url}/v1/ai-sdk/chat`, headers: { authorization: `Bearer ${user.token}` }, ...(agent ? { body: { agent } } : {}) });
  const send = (user: TestUser, chatId: string, text: string, agent?: string) =>
    transport(user, agent).sendMessages({ chatId, trigger: 'submit-message', messageId: undefined, abortSignal: undefined, messages: [userMessage(text)] });

  beforeAll(async () => {
    await provider.start();
    server = await startServer(backend, {
      agents: [toolsAgent, failingAgent, gates.agent(), pacedAgent(40, 15)],
      // The agent on a model (`assistant`): the provider answers what a test scripts (429 here), no retries.
      env: { LLM_BASE_URL: provider.url, LLM_API_KEY: 'sk-test-key', LLM_MODEL: 'gpt-4o-mini', LLM_MAX_RETRIES: '0' },
    });
    proxy = await startProxy(server.runtime.port);
    alice = await server.register();
    bob = await server.register();
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
    await provider.stop();
  });

  it('golden path: reasoning, three tool parts with results, and the stored answer as text', async () => {
    const chatId = 'Xq3kP9aZ2mN8bR1c'; // what the AI SDK's generateId makes: 16 letters and digits, not a UUID
    const stream = await send(alice, chatId, 'prices please', 'tools3');
    const chunks: UIMessageChunk[] = [];
    const [forChunks, forMessage] = stream.tee();
    const reading = (async () => {
      for await (const c of forChunks) chunks.push(c);
    })();
    let message: UIMessage | undefined;
    for await (const m of readUIMessageStream({ stream: forMessage })) message = m;
    await reading;
    console.log(`ai-sdk golden path chunks (${backend}): ${chunks.map((c) => c.type).join(' ')}`);
    console.log(`ai-sdk golden path parts (${backend}): ${message?.parts.map((p) => p.type).join(' ')}`);
    const runId = (message?.metadata as { agentwire: { runId: string } }).agentwire.runId;
    const events = await storedEvents(server.url, alice.token, runId);
    const completed = events.at(-1);
    expect(completed?.type).toBe('agent_completed');
    expect(message?.id).toBe(`aw-${runId}`);
    expect(message?.parts.map((p) => p.type)).toEqual(['step-start', 'reasoning', 'dynamic-tool', 'dynamic-tool', 'dynamic-tool', 'text']);
    const tools = message?.parts.filter((p) => p.type === 'dynamic-tool') ?? [];
    expect(tools.map((p) => (p as { state: string }).state)).toEqual(['output-available', 'output-available', 'output-available']);
    expect(tools.map((p) => (p as { output: unknown }).output)).toEqual(events.filter((e) => e.type === 'tool_completed').map((e) => (e as { result: unknown }).result));
    expect(textOfMessage(message)).toBe(completed?.type === 'agent_completed' ? completed.text : 'not completed');
    expect(message?.parts.find((p) => p.type === 'reasoning')).toMatchObject({ text: 'planning: prices please (three look-ups)' });

    // The chat id names one thread of alice's, reused by the next message.
    const again = await send(alice, chatId, 'and again', 'tools3');
    let second: UIMessage | undefined;
    for await (const m of readUIMessageStream({ stream: again })) second = m;
    const threads = (await (await fetch(`${server.url}/v1/threads`, { headers: { authorization: `Bearer ${alice.token}` } })).json()) as { threads: Array<{ threadId: string }> };
    const secondRun = (second?.metadata as { agentwire: { threadId: string } }).agentwire;
    expect(secondRun.threadId).toBe((message?.metadata as { agentwire: { threadId: string } }).agentwire.threadId);
    expect(threads.threads.filter((t) => t.threadId === secondRun.threadId)).toHaveLength(1);
  });

  it('GET …/stream answers 204 with no active run, and the active run from its start otherwise (resumeStream)', async () => {
    expect(await transport(alice).reconnectToStream({ chatId: 'never-used-chat' })).toBeNull();
    const chatId = `gated-${backend}`;
    const chat = new NodeChat({ id: chatId, transport: transport(alice, 'gated') });
    const sending = chat.sendMessage({ text: `gate-${backend}` });
    await gates.reached(`gate-${backend}`);
    // A second chat object (a reloaded page) resumes the active run.
    const reloaded = new NodeChat({ id: chatId, transport: transport(alice) });
    const resuming = reloaded.resumeStream();
    await until(() => reloaded.messages.some((m) => m.role === 'assistant' && m.parts.some((p) => p.type === 'reasoning')), 'the resumed stream to show the reasoning so far');
    gates.release(`gate-${backend}`);
    await Promise.all([sending, resuming]);
    for (const c of [chat, reloaded]) {
      const assistants = c.messages.filter((m) => m.role === 'assistant');
      expect(assistants).toHaveLength(1);
      expect(textOfMessage(assistants[0])).toBe(`done: gate-${backend}`);
    }
    expect(await transport(alice).reconnectToStream({ chatId })).toBeNull();
  });

  it('stop: POST …/stop cancels the run, the stream ends with abort; a disconnect alone cancels nothing', async () => {
    const chatId = `stop-${backend}`;
    const key = `stop-gate-${backend}`;
    const controller = new AbortController();
    const stream = await transport(alice, 'gated').sendMessages({ chatId, trigger: 'submit-message', messageId: undefined, abortSignal: controller.signal, messages: [userMessage(key)] });
    await gates.reached(key);
    controller.abort(); // the client goes away: the run goes on
    await stream.cancel().catch(() => undefined);
    const resumed = await transport(alice).reconnectToStream({ chatId });
    expect(resumed).not.toBeNull();
    const stop = await fetch(`${server.url}/v1/ai-sdk/chat/${chatId}/stop`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}` } });
    expect(stop.status).toBe(200);
    const chunks: UIMessageChunk[] = [];
    for await (const c of resumed!) chunks.push(c);
    expect(chunks.at(-1)).toEqual({ type: 'abort', reason: 'cancelled by user' });
    const { cancelled } = (await stop.json()) as { cancelled: string[] };
    expect(cancelled).toHaveLength(1);
    expect((await storedEvents(server.url, alice.token, cancelled[0]!)).at(-1)?.type).toBe('agent_cancelled');
  });

  it('an agent error is an error chunk, and its code and retryable reach the message', async () => {
    const stream = await send(alice, `fail-${backend}`, 'fail please', 'failing');
    const chunks: UIMessageChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.type).slice(-4)).toEqual(['data-agentwire-error', 'finish-step', 'error', 'finish']);
    expect(chunks.find((c) => c.type === 'data-agentwire-error')).toMatchObject({ data: { code: 'agent_failed', retryable: true } });
    expect(chunks.at(-1)).toMatchObject({ type: 'finish', finishReason: 'error', messageMetadata: { agentwire: { error: { code: 'agent_failed', retryable: true } } } });
  });

  it("another user's chat id is a chat of its own; another user's run is 404 as one that does not exist", async () => {
    const chatId = `private-${backend}`;
    const stream = await send(alice, chatId, 'mine', 'tools3');
    let message: UIMessage | undefined;
    for await (const m of readUIMessageStream({ stream })) message = m;
    const runId = (message?.metadata as { agentwire: { runId: string } }).agentwire.runId;
    const get = (user: TestUser, q: string) => fetch(`${server.url}/v1/ai-sdk/chat/${chatId}/stream${q}`, { headers: { authorization: `Bearer ${user.token}` } });
    const mine = await get(alice, `?runId=${runId}&afterSeq=0`);
    expect(mine.status).toBe(200);
    await mine.body?.cancel();
    const theirs = await get(bob, `?runId=${runId}`);
    const missing = await get(bob, `?runId=00000000-0000-4000-8000-000000000000`);
    expect(theirs.status).toBe(404);
    expect(await theirs.text()).toBe(await missing.text());
    const stop = await fetch(`${server.url}/v1/ai-sdk/chat/${chatId}/stop`, { method: 'POST', headers: { authorization: `Bearer ${bob.token}` } });
    const stopMissing = await fetch(`${server.url}/v1/ai-sdk/chat/no-such-chat/stop`, { method: 'POST', headers: { authorization: `Bearer ${bob.token}` } });
    expect([stop.status, await stop.text()]).toEqual([stopMissing.status, await stopMissing.text()]);
    expect(stop.status).toBe(404);
    // Bob's chat of the same name is his own thread; alice's run is not in it.
    expect((await get(bob, '')).status).toBe(204);
  });

  it('counts its answers in the metrics', async () => {
    const read = async () => {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const started = Number(/agentwire_sse_streams_total\{protocol="ai-sdk"\} (\d+)/.exec(metrics)?.[1] ?? 0);
      const sent = Number(/agentwire_sse_events_sent_total\{protocol="ai-sdk"\} (\d+)/.exec(metrics)?.[1] ?? 0);
      return { started, sent, open: /agentwire_sse_streams_open \d+/.test(metrics) };
    };
    const before = await read();
    const stream = await send(alice, `metrics-${backend}`, 'count me', 'tools3');
    let runId = '';
    for await (const c of stream) if (c.type === 'start') runId = (c.messageMetadata as { agentwire: { runId: string } }).agentwire.runId;
    const after = await read();
    expect(after.started - before.started).toBe(1);
    expect(after.sent - before.sent).toBe((await storedEvents(server.url, alice.token, runId)).length);
    expect(after.open).toBe(true);
  });

  it('refuses what it must: no token 401, a malformed body 400 with a message, a foreign Origin 403', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}/v1/ai-sdk/chat`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post('{}')).status).toBe(401);
    const bad = await post('{"id": 5}', { authorization: `Bearer ${alice.token}` });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^id: /);
    const noUser = await post(JSON.stringify({ id: 'c', messages: [{ id: 'a', role: 'assistant', parts: [] }] }), { authorization: `Bearer ${alice.token}` });
    expect(noUser.status).toBe(400);
    const foreign = await post(JSON.stringify({ id: 'c', messages: [userMessage('x')] }), { authorization: `Bearer ${alice.token}`, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
  });

  it('dropped connection mid-answer: the agentwire transport continues from its last seq; the stock client resumes from the start', async () => {
    // agentwire's transport, through a proxy that drops every connection mid-answer.
    const chunksSeen: string[] = [];
    const counting = (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      chunksSeen.push(`${init?.method ?? 'GET'} ${String(input).replace(proxy.url, '')}`);
      return fetch(input, init);
    };
    const chat = new NodeChat({
      id: `drop-${backend}`,
      transport: new AgentwireChatTransport({ api: `${proxy.url}/v1/ai-sdk/chat`, token: alice.token, body: { agent: 'paced' }, fetch: counting, minDelayMs: 5 }),
    });
    const sending = chat.sendMessage({ text: 'count slowly' });
    await until(() => textOfMessage(chat.messages.find((m) => m.role === 'assistant')).length > 10, 'some of the answer');
    const cut = proxy.cut();
    await sending;
    const assistants = chat.messages.filter((m) => m.role === 'assistant');
    const runId = (assistants[0]?.metadata as { agentwire: { runId: string } }).agentwire.runId;
    const stored = await storedEvents(server.url, alice.token, runId);
    const answer = stored.at(-1)?.type === 'agent_completed' ? (stored.at(-1) as { text: string }).text : 'not completed';
    const reconnects = chunksSeen.filter((r) => r.startsWith('GET'));
    console.log(`resume after a dropped connection (agentwire transport, ${backend}): cut ${cut} connection(s), ${reconnects.length} reconnect(s) [${reconnects.join(', ')}], ${assistants.length} assistant message(s), ${assistants[0]?.parts.filter((p) => p.type === 'text').length} text part(s), answer ${textOfMessage(assistants[0]) === answer ? 'equal to' : 'DIFFERENT from'} the stored one`);
    expect(cut).toBeGreaterThanOrEqual(1);
    expect(reconnects.length).toBeGreaterThanOrEqual(1);
    expect(reconnects[0]).toMatch(new RegExp(`/stream\\?runId=${runId}&afterSeq=[1-9]`));
    expect(assistants).toHaveLength(1);
    expect(assistants[0]?.parts.filter((p) => p.type === 'text')).toHaveLength(1);
    expect(textOfMessage(assistants[0])).toBe(answer);

    // The stock DefaultChatTransport: the stream fails with the cut; resumeStream replays it whole.
    const stock = new NodeChat({ id: `drop-stock-${backend}`, transport: new DefaultChatTransport({ api: `${proxy.url}/v1/ai-sdk/chat`, headers: { authorization: `Bearer ${alice.token}` }, body: { agent: 'paced' } }) });
    const stockSending = stock.sendMessage({ text: 'count slowly' });
    await until(() => textOfMessage(stock.messages.find((m) => m.role === 'assistant')).length > 10, 'some of the stock answer');
    proxy.cut();
    await stockSending;
    await stock.resumeStream();
    const stockAssistants = stock.messages.filter((m) => m.role === 'assistant');
    const stockRun = (stockAssistants[0]?.metadata as { agentwire: { runId: string } }).agentwire.runId;
    const stockStored = await storedEvents(server.url, alice.token, stockRun);
    console.log(`resume after a dropped connection (stock DefaultChatTransport + resumeStream, ${backend}): ${stockAssistants.length} assistant message(s), answer ${textOfMessage(stockAssistants[0]) === (stockStored.at(-1) as { text: string }).text ? 'equal to' : 'DIFFERENT from'} the stored one`);
    expect(stockAssistants).toHaveLength(1);
    expect(textOfMessage(stockAssistants[0])).toBe((stockStored.at(-1) as { text: string }).text);
  });

  it('a 429 from the model provider ends the answer with an error chunk carrying code and retryable', async () => {
    provider.enqueue({ status: 429, retryAfterMs: 5 });
    const stream = await send(alice, `llm-429-${backend}`, 'where does my money go?', 'assistant');
    const chunks: UIMessageChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.find((c) => c.type === 'data-agentwire-error')).toMatchObject({ data: { code: 'model_unavailable', retryable: true } });
    expect(chunks.find((c) => c.type === 'error')).toBeDefined();
    expect(chunks.at(-1)).toMatchObject({ type: 'finish', finishReason: 'error', messageMetadata: { agentwire: { error: { code: 'model_unavailable', retryable: true } } } });
  });
});
