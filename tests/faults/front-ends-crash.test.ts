// SIGKILL the process that serves an AI SDK answer and runs its agent, mid-run: the agentwire chat
// transport reconnects (through a proxy now pointing at a second process) and asks for what it
// missed by seq; the second process takes the run over once its lease lapses. The chat ends
// with one assistant message, the stored answer, nothing twice.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentwireChatTransport } from '../../client/src/index.js';
import { faultEnv, type FaultEnv } from '../helpers/fault-env.js';
import { NodeChat, textOfMessage } from '../helpers/front-ends.js';
import { pgServerMissing } from '../helpers/pg-cluster.js';
import { startProxy, type CuttableProxy } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';

describe.skipIf(pgServerMissing() !== undefined)('an SSE answer whose process dies', () => {
  let env: FaultEnv | undefined;
  let proxy: CuttableProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    await env?.dispose();
  });

  it('SIGKILL mid-run: the transport reconnects to another process; one assistant message, the stored answer', async () => {
    env = await faultEnv();
    const gate = join(mkdtempSync(join(tmpdir(), 'sse-gate-')), 'open');
    const common = { LEASE_MS: '1500', DRILL_STEP_MS: '100', DRILL_GATE: gate };
    let target = 0;
    proxy = await startProxy(() => target);
    const victim = await env.node({ ...common, NODE_ID: 'n1' });
    const survivor = await env.node({ ...common, NODE_ID: 'n2' });
    const portOf = (url: string) => Number(new URL(url).port);
    target = portOf(victim.url);
    const [user] = await env.users(victim.url, 1);
    const requests: string[] = [];
    const chat = new NodeChat({
      id: 'crash-chat',
      transport: new AgentwireChatTransport({
        api: `${proxy.url}/v1/ai-sdk/chat`,
        token: user!.token,
        body: { agent: 'drill' },
        minDelayMs: 50,
        fetch: (input, init) => {
          requests.push(`${init?.method ?? 'GET'} ${String(input).replace(proxy!.url, '')}`);
          return fetch(input, init);
        },
      }),
    });
    const sending = chat.sendMessage({ text: 'drill' });
    // The victim runs it and the client has its first reasoning; the run waits at the gate.
    await until(() => chat.messages.some((m) => m.role === 'assistant' && m.parts.some((p) => p.type === 'reasoning')), 'the first reasoning');
    const { rows } = await env.sql.query<{ id: string; lease_owner: string }>(`SELECT id, lease_owner FROM runs WHERE status = 'running'`);
    expect(rows.map((r) => r.lease_owner)).toEqual(['n1']);
    const runId = rows[0]!.id;
    target = portOf(survivor.url);
    victim.kill('SIGKILL');
    await victim.exited;
    writeFileSync(gate, '');
    await sending;

    const events = (await env.sql.query<{ body: { type: string; text?: string } }>('SELECT body FROM run_events WHERE run_id = $1 ORDER BY seq', [runId])).rows.map((r) => r.body);
    const { rows: owner } = await env.sql.query<{ lease_owner: string | null; attempt: number }>('SELECT lease_owner, attempt FROM runs WHERE id = $1', [runId]);
    const assistants = chat.messages.filter((m) => m.role === 'assistant');
    const parts = assistants[0]?.parts ?? [];
    const toolIds = parts.filter((p) => p.type === 'dynamic-tool').map((p) => (p as { toolCallId: string }).toolCallId);
    const reasoning = parts.filter((p) => p.type === 'reasoning').map((p) => (p as { text: string }).text).join('|');
    const reconnects = requests.filter((r) => r.startsWith('GET'));
    console.log(
      `resume after SIGKILL of the serving worker: ${reconnects.length} reconnect(s) [${reconnects.map((r) => r.replace(/runId=[^&]+/, 'runId=…')).join(', ')}], attempt ${owner[0]?.attempt}, ${assistants.length} assistant message(s), ${toolIds.length} tool part(s), ${events.length} stored events, answer ${textOfMessage(assistants[0]) === events.at(-1)?.text ? 'equal to' : 'DIFFERENT from'} the stored one`,
    );
    expect(events.at(-1)?.type).toBe('agent_completed');
    expect(owner[0]?.attempt).toBe(2); // taken over by the survivor
    expect(reconnects.length).toBeGreaterThanOrEqual(1);
    expect(reconnects[0]).toMatch(/\/stream\?runId=.+&afterSeq=[1-9]/);
    expect(assistants).toHaveLength(1);
    expect(textOfMessage(assistants[0])).toBe(events.at(-1)?.text);
    expect(toolIds).toHaveLength(3);
    expect(new Set(toolIds).size).toBe(3);
    // Each thinking step exactly once.
    for (const step of [1, 2, 3]) expect(reasoning.split(`step ${step} of 3`).length - 1).toBe(1);
  });
});
