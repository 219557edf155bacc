// The chat page in real Chromium (Debian's, driven by playwright-core): credentials are checked
// before they are sent; a new user registers, asks, and sees the run as it happens and the
// answer; a reopened thread shows the run again, thinking and tool cards included; with the
// socket cut from the server side mid-run, the page shows it is reconnecting and recovers with no
// row duplicated or missing; a narrow window keeps the thread list; a page whose origin the
// server refuses says so and what to set; logging out revokes the token on the server.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pacedAgent } from '../helpers/agents.js';
import { primaryBackend } from '../helpers/backends.js';
import { CHROMIUM, chromiumMissing } from '../helpers/requirements.js';
import { startProxy, type CuttableProxy } from '../helpers/proxy.js';
import { startServer, type TestServer } from '../helpers/server.js';

// Written on every run (git ignores them); docs/screenshots holds copies for the README.
const SHOTS = join(import.meta.dirname, '..', '.artifacts', 'screenshots');
const PIECES = 60;

// Skipped, with one line from tests/setup/browser.ts, where Chromium is missing (.ci/run installs it).
describe.skipIf(chromiumMissing() !== undefined)(`chat page in Chromium on ${primaryBackend}`, () => {
  let server: TestServer;
  let proxy: CuttableProxy;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    // The page is reached through a proxy (to cut its socket), so its origin is the proxy's, and
    // that is the only origin allowed: the server's own address is refused (a test below).
    let serverPort = 0;
    proxy = await startProxy(() => serverPort);
    server = await startServer(primaryBackend, { agents: [pacedAgent(PIECES, 40)], env: { ALLOWED_ORIGINS: proxy.url } });
    serverPort = Number(new URL(server.url).port);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    // A script error on the page fails the test that caused it.
    page.on('pageerror', (e) => {
      throw e;
    });
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await server?.stop();
  });

  it('checks the username and password in the browser and says what is wrong, sending nothing', async () => {
    const sent: string[] = [];
    const track = (r: { url(): string }) => sent.push(new URL(r.url()).pathname);
    page.on('request', track);
    await page.goto(`${proxy.url}/`);
    await page.getByLabel('Username').fill('ab');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('alert').filter({ hasText: 'Usernames have 3 to 64 characters.' }).waitFor();
    await page.getByLabel('Username').fill(`short_${Date.now().toString(36)}`);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('alert').filter({ hasText: 'Passwords need at least 8 characters.' }).waitFor();
    page.off('request', track);
    expect(sent.filter((p) => p.startsWith('/v1/'))).toEqual([]);
  });

  it('registers, asks, and shows the run and the answer', async () => {
    await page.goto(`${proxy.url}/`);
    await page.getByLabel('Username').fill(`page_${Date.now().toString(36)}`);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Connected', { exact: true }).waitFor();

    await page.getByLabel('Your question').fill('Where does my money go, and what should I move to a cheaper model?');
    await page.getByRole('button', { name: 'Send' }).click();
    const run = page.locator('.run[data-run]').last();
    await run.getByRole('heading', { name: 'Where the money goes' }).waitFor();

    const types = await run.locator('[data-type]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.type));
    expect(types[0]).toBe('agent_started');
    expect(types.at(-1)).toBe('agent_completed');
    for (const t of ['agent_thinking', 'tool_executing', 'tool_completed']) expect(types).toContain(t);
    expect(await run.locator('details.tool').count()).toBe(3);
    expect(await run.locator('.answer table').count()).toBeGreaterThan(0);
    // The answer is rendered as markup, never as raw HTML from the agent.
    expect(await run.locator('.answer script').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'chat-answer.png') });
    await page.locator('details.tool').first().click();
    await page.screenshot({ path: join(SHOTS, 'chat-tool-card.png') });
  });

  it('reopens a thread with its run as it happened: thinking, tool cards, output and answer', async () => {
    const first = page.locator('.run[data-run]').last();
    const runId = await first.getAttribute('data-run');
    const shown = await first.locator('[data-seq]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.type));
    await page.getByRole('button', { name: 'New thread' }).click();
    expect(await page.locator('.run').count()).toBe(0);

    await page.locator('#thread-list button').first().click();
    const run = page.locator(`.run[data-run="${runId}"]`);
    await run.locator('[data-type="agent_completed"]').waitFor();
    // Every stored event is drawn again, as the live page drew it.
    expect(await run.locator('[data-seq]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.type))).toEqual(shown);
    expect(await run.locator('details.tool').count()).toBe(3);
    expect(await run.locator('.thinking').count()).toBeGreaterThan(0);
    expect(await run.locator('.answer table').count()).toBeGreaterThan(0);
    expect(await page.locator('.msg.user .bubble').first().textContent()).toBe('Where does my money go, and what should I move to a cheaper model?');
  });

  it('recovers from a socket cut mid-run with no duplicated or missing rows', async () => {
    await page.goto(`${proxy.url}/?agent=paced`);
    await page.getByText('Connected', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'New thread' }).click();
    await page.getByLabel('Your question').fill('Count slowly, please.');
    await page.getByRole('button', { name: 'Send' }).click();
    const run = page.locator('.run[data-run]').last();
    await run.locator('[data-type="agent_output"]').nth(10).waitFor();

    proxy.cut();
    await page.getByText('Reconnecting…').waitFor();
    await page.screenshot({ path: join(SHOTS, 'chat-reconnecting.png') });
    await run.locator('[data-type="agent_completed"]').waitFor();

    const seqs = await run.locator('[data-seq]').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.seq)));
    // agent_started, PIECES outputs, agent_completed: every seq once, in order.
    expect(seqs).toEqual(Array.from({ length: PIECES + 2 }, (_, i) => i + 1));
    expect(await page.getByText('Connected', { exact: true }).count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'chat-recovered.png') });
    console.info(`browser cut test: ${seqs.length} rows after 1 cut, 0 duplicated, 0 missing`);
  });

  it('keeps the thread list and New thread in a narrow window, behind a Threads button', async () => {
    await page.setViewportSize({ width: 600, height: 900 });
    try {
      const toggle = page.getByRole('button', { name: 'Threads' });
      const newThread = page.getByRole('button', { name: 'New thread' });
      expect(await toggle.isVisible()).toBe(true);
      expect(await newThread.isVisible()).toBe(false);
      await toggle.click();
      expect(await toggle.getAttribute('aria-expanded')).toBe('true');
      expect(await newThread.isVisible()).toBe(true);
      expect(await page.locator('#thread-list button').first().isVisible()).toBe(true);
      await page.screenshot({ path: join(SHOTS, 'chat-narrow-threads.png') });
      // Opening a thread closes the list and shows the thread.
      await page.locator('#thread-list button').first().click();
      await page.locator('.run[data-run] [data-type="agent_completed"]').first().waitFor();
      expect(await newThread.isVisible()).toBe(false);
      expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    } finally {
      await page.setViewportSize({ width: 1200, height: 900 });
    }
  });

  it('says, on a page whose origin the server refuses, what is wrong and what to set', async () => {
    // The server's own address: not in ALLOWED_ORIGINS (only the proxy's is).
    const other = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    try {
      await other.goto(`${server.url}/`);
      await other.getByLabel('Username').fill(`origin_${Date.now().toString(36)}`);
      await other.getByLabel('Password').fill('correct horse battery');
      await other.getByRole('button', { name: 'Create account' }).click();
      const problem = other.locator('#socket-problem');
      await problem.waitFor();
      expect(await problem.textContent()).toContain(`ALLOWED_ORIGINS=${server.url}`);
      expect(await other.locator('#connection').textContent()).toBe('Refused: origin not allowed');
      await other.screenshot({ path: join(SHOTS, 'chat-origin-refused.png') });
    } finally {
      await other.close();
    }
  });

  it('revokes the token on the server when the user logs out', async () => {
    await page.goto(`${proxy.url}/`);
    await page.getByText('Connected', { exact: true }).waitFor();
    const token = await page.evaluate(() => sessionStorage.getItem('agentwire.token'));
    const threads = () => fetch(`${server.url}/v1/threads`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await threads()).toBe(200);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('agentwire.token'))).toBeNull();
    expect(await threads()).toBe(401);
  });
});
