// The statechart visualizer at /debug in real Chromium (Debian's, driven by playwright-core):
// a stranger lands on the sign-in page with no console error; every state and transition of
// every machine is drawn; a live run moves the highlight through
// its states in order, and a live refusal shows; a stored run steps forward and back, and a
// refused event in its log is marked.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { machines } from '../../machines/index.js';
import type { Agent, Tool } from '../../src/agents/types.js';
import { allStates, machineGraph } from '../../src/debug/graph.js';
import { Gates, scriptedAgent } from '../helpers/agents.js';
import { primaryBackend } from '../helpers/backends.js';
import { CHROMIUM, chromiumMissing } from '../helpers/requirements.js';
import type { TestClient } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const SHOTS = join(import.meta.dirname, '..', '.artifacts', 'screenshots');
const DEBUG_TOKEN = 'debug-token-for-the-browser-test-0123456789';

// A run that holds in each state until the test lets it go on: working, a tool call, working.
const gates = new Gates();
const steppedTool: Tool = {
  name: 'gate_tool',
  description: 'Test tool: waits at the "tool" gate.',
  input: z.strictObject({}),
  execute: async (_input, ctx) => {
    await gates.wait('tool', ctx.signal);
    return { ok: true };
  },
};
const steppedAgent: Agent = {
  name: 'stepped',
  description: 'Test agent: waits at gates between its steps.',
  async run(ctx) {
    await gates.wait('think', ctx.signal);
    await ctx.think('on my way to the tool');
    await ctx.callTool('gate_tool', {});
    await gates.wait('finish', ctx.signal);
    return { text: 'done' };
  },
};

// playwright-core has no `expect`: wait for the page to reach a state, then assert plainly.
const hasText = (l: Locator, text: string) => until(async () => (await l.textContent()) === text, `${l} to read "${text}"`);
const hasCount = (l: Locator, n: number) => until(async () => (await l.count()) === n, `${n} of ${l}`);
const hasAttr = (l: Locator, name: string, v: string) => until(async () => (await l.getAttribute(name)) === v, `${l} ${name}=${v}`);
const contains = (l: Locator, text: string) => until(async () => (await l.textContent())?.includes(text), `${l} to contain "${text}"`);

// Streams one answer and completes with another: the run statechart refuses the agent_completed.
const mismatchAgent: Agent = {
  name: 'mismatch',
  description: 'Test agent: its final answer differs from what it streamed.',
  async run(ctx) {
    await ctx.output('streamed');
    return { text: 'something else' };
  },
};

// Skipped, with one line from tests/setup/browser.ts, where Chromium is missing (.ci/run installs it).
describe.skipIf(chromiumMissing() !== undefined)(`statechart visualizer in Chromium on ${primaryBackend}`, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let client: TestClient;
  let liveRunId = '';
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    server = await startServer(primaryBackend, {
      agents: [steppedAgent, scriptedAgent, mismatchAgent],
      tools: [steppedTool],
      // A short feed interval keeps the test quick; the default is 200 ms.
      env: { DEBUG_ENABLED: 'true', DEBUG_TOKEN, DEBUG_FEED_INTERVAL_MS: '50' },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    page.on('pageerror', (e) => {
      throw e;
    });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    // Nothing may be loaded from anywhere but the server itself.
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (!['data:', 'blob:'].includes(u.protocol) && u.origin !== server.url) throw new Error(`request outside the server: ${r.url()}`);
    });
    mkdirSync(SHOTS, { recursive: true });
    const user = await server.register();
    client = await server.connect(user.token);
    await client.waitType('session_ready');
  });
  afterAll(async () => {
    for (const k of ['think', 'tool', 'finish']) gates.release(k);
    await browser?.close();
    await server?.stop();
  });

  it('sends a stranger to the sign-in page with no error in the console, signs in with the debug token, and draws every state and transition of every machine', async () => {
    const res = await page.goto(`${server.url}/debug`);
    expect(res?.status()).toBe(200);
    expect(page.url()).toBe(`${server.url}/debug/login`);
    await page.getByLabel('Debug token').waitFor();
    expect(consoleErrors).toEqual([]);
    await page.getByLabel('Debug token').fill(DEBUG_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('body[data-ready="true"]').waitFor();
    expect(page.url()).toBe(`${server.url}/debug`);
    await hasText(page.locator('#feed-status'), 'Live');

    let states = 0;
    for (const [name, machine] of Object.entries(machines)) {
      const g = machineGraph(machine);
      const section = page.locator(`section.machine[data-machine="${name}"]`);
      for (const s of allStates(g).slice(1)) {
        expect(await section.locator(`g.state[data-state="${s.id}"]`).count(), s.id).toBe(1);
        expect(await section.locator(`g.state[data-state="${s.id}"] > text.name`).textContent()).toBe(s.key);
        states++;
      }
      for (const t of g.transitions.filter((x) => x.target)) expect(await section.locator(`g.edge[data-transition="${t.id}"]`).count(), t.id).toBe(1);
    }
    expect(states).toBeGreaterThanOrEqual(10);
    await page.screenshot({ path: join(SHOTS, 'visualizer-machines.png'), fullPage: true });
  });

  it('follows a live run clicked anywhere on its row, moves its highlight through its states in order, and marks a live run whose event is refused', async () => {
    const accepted = await client.request('step by step', { agent: 'stepped' });
    liveRunId = accepted.runId as string;
    const row = page.locator(`#runs tr[data-actor="${liveRunId}"]`);
    // Its state cell, not the short-id link.
    await row.locator('td.state').click();
    await hasText(page.locator('#focus-id'), liveRunId);
    const state = page.locator('#focus-state');
    const current = () =>
      page.locator('section.machine[data-machine="run"] g.state.current').evaluateAll((els) => els.map((e) => (e as SVGGElement).dataset.state));

    await gates.reached('think');
    await hasText(state, 'running.working');
    expect(await current()).toEqual(['run.running', 'run.running.working']);
    // Its user's session carries the run meanwhile.
    await hasCount(page.locator('#sessions tr[data-state="connected.carrying"]'), 1);

    gates.release('think');
    await gates.reached('tool');
    await hasText(state, 'running.toolCall');
    expect(await current()).toEqual(['run.running', 'run.running.toolCall']);
    await page.screenshot({ path: join(SHOTS, 'visualizer-live.png') });

    gates.release('tool');
    await gates.reached('finish');
    await hasText(state, 'running.working');

    gates.release('finish');
    await hasText(state, 'completed (done)');
    expect(await current()).toEqual(['run.completed']);
    const trail = await page.locator('#trail li').allTextContents();
    expect(trail).toEqual(['running.working', 'running.toolCall', 'running.working', 'completed']);
    await client.runEvents(liveRunId);

    // A refused event shows on the live page: the run's row says so, and the run ends failed.
    const bad = (await client.request('mismatch', { agent: 'mismatch' })).runId as string;
    const badRow = page.locator(`#runs tr[data-actor="${bad}"].has-refused`);
    await hasCount(badRow, 1);
    await contains(badRow, 'refused agent_completed');
    await hasText(badRow.locator('td.state'), 'failed (done)');
    await contains(page.locator('#totals'), 'Refused events: 1.');
    expect((await client.runEvents(bad)).at(-1)).toMatchObject({ type: 'agent_error', code: 'grammar_violation' });
  });

  it('steps forward and back through a stored run and marks a refused event', async () => {
    const events = await client.runEvents(liveRunId);
    await page.getByRole('button', { name: 'Replay' }).click();
    await page.getByPlaceholder('run id').fill(liveRunId);
    await page.getByRole('button', { name: 'Open' }).click();
    await hasCount(page.locator('#steps li'), events.length);
    // Each step is numbered once, by its seq: the list adds no marker of its own (one would
    // read "1. 1. agent_started", and from 10 on would be clipped by the list's edge).
    const steps = await page.locator('#steps li').evaluateAll((els) => els.map((e) => ({ marker: getComputedStyle(e).listStyleType, text: (e as HTMLElement).innerText })));
    expect(steps.map((x) => x.marker)).toEqual(events.map(() => 'none'));
    expect(steps.map((x) => x.text.split(' ')[0])).toEqual(events.map((e) => `${e.seq}.`));
    const pos = page.locator('#step-pos');
    const current = () => page.locator('#replay-diagram g.state.current').evaluateAll((els) => els.map((e) => (e as SVGGElement).dataset.state));
    await hasText(pos, `0 / ${events.length}`);
    expect(await current()).toEqual(['run.queued']);

    // Forward through every event: each is accepted, with its payload shown.
    const seen: string[] = [];
    for (const e of events) {
      await page.getByRole('button', { name: 'Forward' }).click();
      await hasText(pos, `${e.seq} / ${events.length}`);
      await hasAttr(page.locator('#step-detail [data-verdict]'), 'data-verdict', 'accepted');
      await contains(page.locator('#step-detail pre.payload'), `"seq": ${e.seq}`);
      seen.push((await current()).at(-1) ?? '');
      if (e.type === 'tool_executing') await page.screenshot({ path: join(SHOTS, 'visualizer-replay.png') });
    }
    expect(seen.at(-1)).toBe('run.completed');
    expect(seen).toContain('run.running.toolCall');
    await page.getByRole('button', { name: 'Back' }).click();
    await hasText(pos, `${events.length - 1} / ${events.length}`);
    expect(await current()).toEqual(['run.running', 'run.running.working']);

    // A log the machine refuses (written by hand here: the recorder never stores one): an event
    // after the terminal one is listed, marked refused, and leaves the state as it was.
    const other = await client.request('anything', { agent: 'scripted' });
    const otherRun = other.runId as string;
    const stored = await client.runEvents(otherRun);
    const extra = { ...stored[1]!, seq: stored.length + 1, ts: new Date().toISOString() };
    await server.runtime.database.query('INSERT INTO run_events (run_id, seq, type, body) VALUES ($1, $2, $3, $4::jsonb)', [otherRun, extra.seq, extra.type, JSON.stringify(extra)]);
    await page.getByPlaceholder('run id').fill(otherRun);
    await page.getByRole('button', { name: 'Open' }).click();
    await hasCount(page.locator('#steps li'), stored.length + 1);
    await hasCount(page.locator('#steps li.refused'), 1);
    await page.getByRole('button', { name: 'Last' }).click();
    await hasAttr(page.locator('#step-detail [data-verdict]'), 'data-verdict', 'refused');
    expect(await current()).toEqual(['run.completed']);
    await page.screenshot({ path: join(SHOTS, 'visualizer-refused.png') });
  });
});
