// AG-UI's own client, both versions in use (1.0.0, and 0.0.59 which CopilotKit pins), against
// AG-UI events served from the event log (docs/front-ends.md). `runAgent` resolves only when the
// client's verifyEvents accepted the whole event sequence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpAgent as HttpAgent100 } from '@ag-ui/client';
import { HttpAgent as HttpAgent059 } from '@ag-ui/client-0059';
import { randomUUID } from 'node:crypto';
import { Gates } from '../helpers/agents.js';
import { primaryBackend } from '../helpers/backends.js';
import { failingAgent, storedEvents, toolsAgent } from '../helpers/front-ends.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

interface SeenEvent {
  type: string;
  messageId?: string;
  code?: string;
  outcome?: { type: string };
  metadata?: { agentwire?: { runId: string; seq: number } };
}
interface AgentLike {
  messages: Array<{ id: string; role: string; content?: unknown }>;
  addMessage(m: { id: string; role: 'user'; content: string }): void;
  runAgent(p: { runId?: string; forwardedProps?: unknown }, s?: { onEvent?(x: { event: SeenEvent }): void }): Promise<unknown>;
  abortRun(): void;
}
type AgentClass = new (c: { url: string; threadId?: string; headers?: Record<string, string> }) => AgentLike;

const versions: Array<[string, AgentClass]> = [
  ['1.0.0', HttpAgent100 as unknown as AgentClass],
  ['0.0.59', HttpAgent059 as unknown as AgentClass],
];

describe('AG-UI over SSE', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const gates = new Gates();

  beforeAll(async () => {
    server = await startServer(primaryBackend, { agents: [toolsAgent, failingAgent, gates.agent()] });
    alice = await server.register();
    bob = await server.register();
  });
  afterAll(() => server?.stop());

  const agentFor = (Agent: AgentClass, user: TestUser, path: string, threadId: string, text: string) => {
    const agent = new Agent({ url: `${server.url}${path}`, threadId, headers: { authorization: `Bearer ${user.token}` } });
    agent.addMessage({ id: `u-${randomUUID()}`, role: 'user', content: text });
    return agent;
  };
  const assistantText = (agent: AgentLike) =>
    agent.messages.filter((m) => m.role === 'assistant' && typeof m.content === 'string').map((m) => m.content as string).join('');

  describe.each(versions)('@ag-ui/client %s', (version, Agent) => {
    it('golden path: verifyEvents accepts the run; reasoning, three tool calls with results, the stored answer', async () => {
      const agent = agentFor(Agent, alice, '/v1/ag-ui/tools3', `thread-${version}`, 'prices please');
      const events: SeenEvent[] = [];
      await agent.runAgent({ runId: `run-${version}` }, { onEvent: ({ event }) => void events.push(event) });
      console.log(`ag-ui ${version} golden path events: ${events.map((e) => e.type).join(' ')}`);
      const runId = events[0]?.metadata?.agentwire?.runId ?? '';
      const stored = await storedEvents(server.url, alice.token, runId);
      const completed = stored.at(-1);
      expect(completed?.type).toBe('agent_completed');
      expect(events[0]?.type).toBe('RUN_STARTED');
      expect(events.at(-1)?.type).toBe('RUN_FINISHED');
      expect(events.filter((e) => e.type === 'TOOL_CALL_RESULT')).toHaveLength(3);
      expect(events.filter((e) => e.type === 'REASONING_MESSAGE_CONTENT')).toHaveLength(2);
      expect(assistantText(agent)).toBe(completed?.type === 'agent_completed' ? completed.text : 'not completed');
      expect(agent.messages.filter((m) => m.role === 'tool')).toHaveLength(3);
      // Every event names the seq it comes from, in order.
      const seqs = events.map((e) => e.metadata?.agentwire?.seq ?? -1);
      expect(seqs.every((s, i) => s >= 1 && (i === 0 || s >= seqs[i - 1]!))).toBe(true);
      expect(seqs.at(-1)).toBe(stored.length);
    });

    it('join: a dropped run is joined by runId and afterSeq; one answer, nothing twice', async () => {
      const key = `join-${version}`;
      const threadId = `thread-join-${version}`;
      const runId = `run-join-${version}`;
      const first = agentFor(Agent, alice, '/v1/ag-ui/gated', threadId, key);
      const seen: SeenEvent[] = [];
      const running = first.runAgent({ runId }, { onEvent: ({ event }) => void seen.push(event) }).catch(() => undefined);
      await gates.reached(key);
      await until(() => seen.some((e) => e.type === 'REASONING_MESSAGE_CONTENT'), 'the first client to show the reasoning');
      first.abortRun(); // the page goes away; the run goes on
      await running;
      const afterSeq = Math.max(...seen.map((e) => e.metadata?.agentwire?.seq ?? 0));
      const joined = new Agent({ url: `${server.url}/v1/ag-ui/gated`, threadId, headers: { authorization: `Bearer ${alice.token}` } });
      const events: SeenEvent[] = [];
      const joining = joined.runAgent({ runId, forwardedProps: { agentwire: { join: { afterSeq } } } }, { onEvent: ({ event }) => void events.push(event) });
      gates.release(key);
      await joining;
      console.log(`ag-ui ${version} join after seq ${afterSeq}: ${events.map((e) => e.type).join(' ')}`);
      expect(events.slice(0, 2).map((e) => e.type)).toEqual(['RUN_STARTED', 'MESSAGES_SNAPSHOT']);
      expect(events.filter((e) => e.type === 'RUN_STARTED')).toHaveLength(1);
      expect(events.at(-1)?.type).toBe('RUN_FINISHED');
      expect(joined.messages.filter((m) => m.role === 'user')).toHaveLength(1);
      const answers = joined.messages.filter((m) => m.role === 'assistant');
      expect(answers).toHaveLength(1);
      expect(answers[0]?.content).toBe(`done: ${key}`);
    });

    it('cancel: a cancelled run ends as this client version understands it', async () => {
      const key = `cancel-${version}`;
      const agent = agentFor(Agent, alice, '/v1/ag-ui/gated', `thread-cancel-${version}`, key);
      const events: SeenEvent[] = [];
      const running = agent.runAgent({ runId: `run-cancel-${version}`, forwardedProps: { agentwire: { cancelOnDisconnect: true } } }, { onEvent: ({ event }) => void events.push(event) });
      await gates.reached(key);
      const runId = await until(() => events[0]?.metadata?.agentwire?.runId, 'RUN_STARTED');
      // This request opted in: its disconnect cancels the run.
      agent.abortRun();
      await running.catch(() => undefined);
      const stored = await until(async () => {
        const evs = await storedEvents(server.url, alice.token, runId);
        return evs.at(-1)?.type === 'agent_cancelled' ? evs : undefined;
      }, 'the run to be cancelled by the disconnect');
      expect(stored.at(-1)).toMatchObject({ type: 'agent_cancelled' });
      // Joining the cancelled run shows its end in this version's terms.
      const joined = new Agent({ url: `${server.url}/v1/ag-ui/gated`, threadId: `thread-cancel-${version}`, headers: { authorization: `Bearer ${alice.token}` } });
      const tail: SeenEvent[] = [];
      await joined.runAgent({ runId: `run-cancel-${version}`, forwardedProps: { agentwire: { join: { afterSeq: stored.length - 1 } } } }, { onEvent: ({ event }) => void tail.push(event) }).catch(() => undefined);
      if (version === '1.0.0') expect(tail.at(-1)).toMatchObject({ type: 'RUN_FINISHED', outcome: { type: 'cancelled' } });
      else expect(tail.at(-1)).toMatchObject({ type: 'RUN_ERROR', code: 'cancelled' });
    });

    it('an agent error is RUN_ERROR with its code', async () => {
      const agent = agentFor(Agent, alice, '/v1/ag-ui/failing', `thread-fail-${version}`, 'fail');
      const events: SeenEvent[] = [];
      await agent.runAgent({ runId: `run-fail-${version}` }, { onEvent: ({ event }) => void events.push(event) }).catch(() => undefined);
      expect(events.at(-1)).toMatchObject({ type: 'RUN_ERROR', code: 'agent_failed' });
    });
  });

  it("another user's thread and run are 404, the same as ones that do not exist", async () => {
    const join = (user: TestUser, threadId: string, runId: string) =>
      fetch(`${server.url}/v1/ag-ui`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ threadId, runId, messages: [], tools: [], context: [], forwardedProps: { agentwire: { join: { afterSeq: 0 } } } }),
      });
    const theirs = await join(bob, 'thread-1.0.0', 'run-1.0.0');
    const missing = await join(bob, 'no-thread', 'no-run');
    expect(theirs.status).toBe(404);
    expect(await theirs.text()).toBe(await missing.text());
    const mine = await join(alice, 'thread-1.0.0', 'run-1.0.0');
    expect(mine.status).toBe(200);
    await mine.body?.cancel();
    const bad = await fetch(`${server.url}/v1/ag-ui`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}` }, body: '{"threadId": 1}' });
    expect(bad.status).toBe(400);
  });
});
