// The chat page's approval card, input box and thumbs, in real Chromium (playwright-core): a run
// that waits for approval shows the prompt, the tool and its arguments with Approve and Deny;
// approving continues the run to its answer; an input question refuses a value its schema does
// not accept, saying which field, and takes a good one; the thumbs and a comment rate the
// finished run on the server.
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvingAgent, askingAgent, sendInvoice } from '../helpers/asking-agents.js';
import { primaryBackend } from '../helpers/backends.js';
import { CHROMIUM, chromiumMissing } from '../helpers/requirements.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe.skipIf(chromiumMissing() !== undefined)(`chat page questions and ratings in Chromium on ${primaryBackend}`, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    server = await startServer(primaryBackend, { agents: [approvingAgent, askingAgent], tools: [sendInvoice] });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A new page (its own session storage: signed out) and a new user. */
  const signUp = async (agent: string) => {
    await page?.close();
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('pageerror', (e) => {
      throw e;
    });
    await page.goto(`${server.url}/?agent=${agent}`);
    await page.getByLabel('Username').fill(`q_${agent}_${Date.now().toString(36)}`);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Connected', { exact: true }).waitFor();
  };

  it('shows the approval card with the tool and its arguments; Approve continues the run; the thumbs rate it', async () => {
    await signUp('invoicer');
    await page.getByLabel('Your question').fill('send the invoice');
    await page.getByRole('button', { name: 'Send' }).click();
    const card = page.locator('.question').last();
    await card.getByText('Allow send_invoice to run with these arguments?').waitFor();
    await card.getByText('Tool: send_invoice').waitFor();
    expect(JSON.parse(await card.locator('pre.args').innerText())).toEqual({ amount: 42 });
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.getByText('Approved').waitFor();
    const run = page.locator('.run[data-run]').last();
    await run.locator('.answer').getByText('sent 42').waitFor();

    await run.getByLabel('Comment on this answer').fill('quick and right');
    await run.getByRole('button', { name: 'Good answer' }).click();
    await run.getByText('Rated 👍').waitFor();
    const token = await page.evaluate(() => sessionStorage.getItem('agentwire.token'));
    const mine = (await (await fetch(`${server.url}/v1/feedback`, { headers: { authorization: `Bearer ${token}` } })).json()) as { feedback: unknown[] };
    expect(mine.feedback).toEqual([expect.objectContaining({ runId: await run.getAttribute('data-run'), rating: 'up', comment: 'quick and right' })]);
  });

  it('an input question refuses a value its schema does not accept, naming the field, and takes a good one', async () => {
    await signUp('asker');
    await page.getByLabel('Your question').fill('book seats');
    await page.getByRole('button', { name: 'Send' }).click();
    const card = page.locator('.question').last();
    await card.getByText('How many seats?').waitFor();
    await card.getByLabel('How many seats?').fill('{"seats": 0}');
    await card.getByRole('button', { name: 'Answer' }).click();
    await card.getByRole('alert').filter({ hasText: 'value.seats' }).waitFor();
    await card.getByLabel('How many seats?').fill('{"seats": 3}');
    await card.getByRole('button', { name: 'Answer' }).click();
    await page.locator('.run[data-run]').last().locator('.answer').getByText('seats: 3').waitFor();
  });
});
