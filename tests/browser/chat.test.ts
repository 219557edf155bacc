// The chat page in real Chromium (Debian's, driven by playwright-core): a new user registers,
// asks, and sees the run as it happens and the answer; then, with the socket cut from the server
// side mid-run, the page shows it is reconnecting and recovers with no row duplicated or missing.
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
    // The page is reached through a proxy (to cut its socket), so its origin is the proxy's.
    server = await startServer(primaryBackend, { agents: [pacedAgent(PIECES, 40)], env: { ALLOWED_ORIGINS: '*' } });
    proxy = await startProxy(Number(new URL(server.url).port));
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
});
