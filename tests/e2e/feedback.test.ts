// Ratings of finished runs: POST /v1/runs/:runId/feedback and the `feedback` frame, once per run
// and changeable; another user's run is 404; GET /v1/feedback lists the caller's; the summary per
// agent and day is for ADMIN_USERS only; /metrics counts ratings per agent with the positive share.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askingAgent } from '../helpers/asking-agents.js';
import { scriptedAgent } from '../helpers/agents.js';
import { primaryBackend } from '../helpers/backends.js';
import type { TestClient } from '../helpers/client.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const DEBUG = 'debug-token-debug-token-debug-token-0123';

describe(`run feedback on ${primaryBackend}`, () => {
  let server: TestServer;
  const admin = `ops_${Date.now().toString(36)}`;
  beforeAll(async () => {
    server = await startServer(primaryBackend, { env: { ADMIN_USERS: admin, DEBUG_ENABLED: 'true', DEBUG_TOKEN: DEBUG }, agents: [scriptedAgent, askingAgent] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const post = (token: string, runId: string, body: unknown) =>
    fetch(`${server.url}/v1/runs/${runId}/feedback`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const get = (token: string, path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const finishedRun = async (u: TestUser, agent = 'scripted'): Promise<{ c: TestClient; runId: string }> => {
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const runId = (await c.request('rate me', { agent })).runId as string;
    await c.runEvents(runId);
    return { c, runId };
  };

  it('rates a finished run, changes the rating (one row), and refuses another user (404), an unfinished run and a bad body (400)', async () => {
    const u = await server.register();
    const other = await server.register();
    const { runId } = await finishedRun(u);

    const first = await post(u.token, runId, { rating: 'down', comment: 'too vague' });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ runId, agent: 'scripted', rating: 'down', comment: 'too vague' });
    const again = await post(u.token, runId, { rating: 'up' });
    expect(again.status).toBe(200);
    const changed = (await again.json()) as { rating: string; comment?: string; createdAt: string; updatedAt: string };
    expect(changed).toMatchObject({ rating: 'up' });
    expect(changed.comment).toBeUndefined();
    const rows = await server.runtime.database.query<{ n: number }>('SELECT count(*)::int AS n FROM run_feedback WHERE run_id = $1', [runId]);
    expect(rows[0]?.n).toBe(1);

    // Someone else's run is not found, exactly like a run that does not exist.
    const foreign = await post(other.token, runId, { rating: 'down' });
    expect(foreign.status).toBe(404);
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await post(other.token, '00000000-0000-4000-8000-000000000000', { rating: 'down' })).status).toBe(404);
    const bad = await post(u.token, runId, { rating: 'meh' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('rating');
    expect((await post(u.token, runId, { rating: 'up', extra: 1 })).status).toBe(400);

    // A run still going (here waiting for its user) cannot be rated yet.
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const open = (await c.request('seats', { agent: 'asker' })).runId as string;
    await c.waitFor((f) => f.type === 'input_requested' && f.runId === open);
    const early = await post(u.token, open, { rating: 'up' });
    expect(early.status).toBe(400);
    expect(((await early.json()) as { error: { message: string } }).error.message).toContain('finished');

    // The caller's list holds their rating; the other user's is empty.
    expect(((await (await get(u.token, '/v1/feedback')).json()) as { feedback: unknown[] }).feedback).toEqual([expect.objectContaining({ runId, rating: 'up' })]);
    expect(((await (await get(other.token, '/v1/feedback')).json()) as { feedback: unknown[] }).feedback).toEqual([]);
  });

  it('the feedback frame rates like the route; another user\'s run is not_found', async () => {
    const u = await server.register();
    const other = await server.register();
    const { c, runId } = await finishedRun(u);
    c.send({ type: 'feedback', runId, rating: 'up', comment: 'spot on' });
    await until(async () => ((await (await get(u.token, '/v1/feedback')).json()) as { feedback: unknown[] }).feedback.length === 1, 'the rating to be stored');
    const o = await server.connect(other.token);
    await o.waitType('session_ready');
    const from = o.frames.length;
    o.send({ type: 'feedback', runId, rating: 'down' });
    expect(await o.waitFor((f) => f.type === 'error', from)).toMatchObject({ code: 'not_found', runId });
    expect(((await (await get(u.token, '/v1/feedback')).json()) as { feedback: unknown[] }).feedback).toEqual([expect.objectContaining({ runId, rating: 'up', comment: 'spot on' })]);
  });

  it('the summary per agent and day is for ADMIN_USERS only, and /metrics counts the ratings per agent with the positive share', async () => {
    const u = await server.register();
    const { runId: a } = await finishedRun(u);
    const { runId: b } = await finishedRun(u);
    const { runId: d } = await finishedRun(u);
    for (const [id, rating] of [[a, 'up'], [b, 'up'], [d, 'down']] as const) expect((await post(u.token, id, { rating })).status).toBe(200);

    expect((await get(u.token, '/v1/feedback/summary')).status).toBe(403);
    const ops = await server.register(admin);
    const summary = (await (await get(ops.token, '/v1/feedback/summary?days=7')).json()) as { summary: Array<{ agent: string; day: string; up: number; down: number; positiveShare: number }> };
    const today = new Date().toISOString().slice(0, 10);
    const row = summary.summary.find((r) => r.agent === 'scripted' && r.day === today)!;
    expect(row.up).toBeGreaterThanOrEqual(2);
    expect(row.down).toBeGreaterThanOrEqual(1);
    expect(row.positiveShare).toBeCloseTo(row.up / (row.up + row.down), 3);

    const counts = await server.runtime.database.query<{ up: number; down: number }>(
      `SELECT count(*) FILTER (WHERE rating = 'up')::int AS up, count(*) FILTER (WHERE rating = 'down')::int AS down FROM run_feedback WHERE agent = 'scripted'`,
    );
    const { up, down } = counts[0]!;
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain(`agentwire_feedback_ratings{agent="scripted",rating="up"} ${up}`);
    expect(metrics).toContain(`agentwire_feedback_ratings{agent="scripted",rating="down"} ${down}`);
    expect(metrics).toContain(`agentwire_feedback_positive_ratio{agent="scripted"} ${Math.round((up / (up + down)) * 10_000) / 10_000}`);
    // A changed rating moves the counts.
    expect((await post(u.token, d, { rating: 'up' })).status).toBe(200);
    const after = await (await fetch(`${server.url}/metrics`)).text();
    expect(after).toContain(`agentwire_feedback_ratings{agent="scripted",rating="up"} ${up + 1}`);
    expect(after).toContain(`agentwire_feedback_ratings{agent="scripted",rating="down"} ${down - 1}`);
  });

  it("the visualizer's replay shows the waiting state and the run's rating", async () => {
    const u = await server.register();
    const c = await server.connect(u.token);
    await c.waitType('session_ready');
    const runId = (await c.request('seats', { agent: 'asker' })).runId as string;
    await c.waitFor((f) => f.type === 'input_requested' && f.runId === runId);
    c.send({ type: 'cancel_run', runId });
    await c.runEvents(runId);
    expect((await post(u.token, runId, { rating: 'down', comment: 'asked too much' })).status).toBe(200);
    const r = (await (await fetch(`${server.url}/debug/api/runs/${runId}`, { headers: { authorization: `Bearer ${DEBUG}` } })).json()) as {
      replay: { steps: Array<{ type: string; states: string[] }> };
      rating: { rating: string; comment?: string };
    };
    expect(r.replay.steps.find((s) => s.type === 'input_requested')?.states).toContain('run.waiting');
    expect(r.replay.steps.at(-1)?.states).toContain('run.cancelled');
    expect(r.rating).toEqual({ rating: 'down', comment: 'asked too much' });
  });
});
