// The statechart visualizer with 1,000 live runs: does the page stay responsive, and what does
// the feed send? One process (embedded PGlite, or the PostgreSQL of DATABASE_URL) with the
// visualizer on; one user starts N runs that hold until released; Debian's Chromium shows /debug.
// Three phases are measured: the ramp (N runs start), steady (N runs held), release (all finish
// at once). Per phase: feed messages and bytes the page received, renders, long tasks (> 50 ms)
// on the page's main thread, frame intervals, and, while steady, how long following a run takes.
//   node --import tsx bench/debug-feed.ts [--runs 1000] [--steady 5]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import type { Agent } from '../src/agents/types.js';
import { primaryBackend } from '../tests/helpers/backends.js';
import { CHROMIUM } from '../tests/helpers/requirements.js';
import { startServer } from '../tests/helpers/server.js';
import { until } from '../tests/helpers/wait.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '1000' }, steady: { type: 'string', default: '5' } } });
const RUNS = Number(values.runs);
const STEADY_S = Number(values.steady);
const TOKEN = 'debug-token-for-the-feed-benchmark-0123456789';
const USERS = 10;
// A benchmark that waits forever reports nothing: give up after ten minutes.
setTimeout(() => {
  console.error('benchmark timed out');
  process.exit(2);
}, 600_000).unref();

let release!: () => void;
const released = new Promise<void>((r) => (release = r));
const holdAgent: Agent = {
  name: 'hold',
  description: 'Benchmark agent: thinks, holds until released, thinks, answers.',
  async run(ctx) {
    await ctx.think('holding');
    await new Promise<void>((resolve, reject) => {
      void released.then(resolve);
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
    });
    await ctx.think('released');
    return { text: 'done' };
  },
};

interface PagePerf {
  messages: number;
  bytes: number;
  renders: number;
  renderMs: number;
  renderMsMax: number;
  longTasks: Array<{ start: number; dur: number }>;
  frames: Array<{ at: number; dt: number }>;
  now: number;
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const round = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const server = await startServer(primaryBackend, {
    agents: [holdAgent],
    env: { DEBUG_ENABLED: 'true', DEBUG_TOKEN: TOKEN, WORKER_CONCURRENCY: String(RUNS + 50), REQUESTS_PER_MINUTE: '1000000' },
  });
  const feed = server.runtime.debugFeed!;
  mkdirSync(join(import.meta.dirname, '..', 'tests', '.artifacts', 'screenshots'), { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
  await context.addCookies([{ name: 'aw_debug', value: TOKEN, url: `${server.url}/debug` }]);
  const page = await context.newPage();
  // A string, not a function: tsx would add helpers to a function that do not exist in the page.
  await page.addInitScript(`
    window.__perf = { longTasks: [], frames: [] };
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.__perf.longTasks.push({ start: e.startTime, dur: e.duration });
    }).observe({ type: 'longtask', buffered: true });
    let last = performance.now();
    const tick = (t) => {
      window.__perf.frames.push({ at: t, dt: t - last });
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  `);
  await page.goto(`${server.url}/debug`);
  await page.locator('body[data-ready="true"]').waitFor();
  await until(async () => (await page.locator('#feed-status').textContent()) === 'Live', 'the feed');

  const sample = () =>
    page.evaluate(() => {
      const w = window as unknown as { __feed: { messages: number; bytes: number; renders: number; renderMs: number; renderMsMax: number }; __perf: { longTasks: Array<{ start: number; dur: number }>; frames: Array<{ at: number; dt: number }> } };
      return { ...w.__feed, longTasks: [...w.__perf.longTasks], frames: [...w.__perf.frames], now: performance.now() } as PagePerf;
    });
  const phase = async (name: string, body: () => Promise<void>) => {
    const a = await sample();
    const s0 = { ...feed.stats };
    const t0 = Date.now();
    await body();
    const seconds = (Date.now() - t0) / 1000;
    const b = await sample();
    const longTasks = b.longTasks.filter((t) => t.start >= a.now).map((t) => t.dur);
    const frames = b.frames.filter((f) => f.at >= a.now).map((f) => f.dt);
    return {
      phase: name,
      seconds: round(seconds),
      feedMessagesPerSec: round((b.messages - a.messages) / seconds),
      feedKBPerSec: round((b.bytes - a.bytes) / 1024 / seconds),
      meanMessageKB: round((b.bytes - a.bytes) / 1024 / Math.max(1, b.messages - a.messages)),
      rendersPerSec: round((b.renders - a.renders) / seconds),
      // The page's own drawing per message (JSON parsing excluded): mean; the max is since the page opened.
      renderMsMean: round((b.renderMs - a.renderMs) / Math.max(1, b.renders - a.renders)),
      renderMsMaxSoFar: round(b.renderMsMax),
      serverInspectionEventsPerSec: round((feed.stats.inspectionEvents - s0.inspectionEvents) / seconds),
      serverMessagesSkipped: feed.stats.skipped - s0.skipped,
      longTasks: longTasks.length,
      longTaskMsTotal: round(longTasks.reduce((x, y) => x + y, 0)),
      longTaskMsMax: round(Math.max(0, ...longTasks)),
      frames: frames.length,
      frameMsP50: round(pct(frames, 50)),
      frameMsP95: round(pct(frames, 95)),
      frameMsMax: round(Math.max(0, ...frames)),
    };
  };

  // Ten users with one socket each: ten live sessions, and no socket over its limit of frames in flight.
  const clients = await Promise.all(
    Array.from({ length: USERS }, async () => {
      const c = await server.connect((await server.register()).token);
      await c.waitType('session_ready');
      return c;
    }),
  );
  const runIds: Array<{ client: (typeof clients)[number]; runId: string }> = [];
  const results = [];
  results.push(
    await phase('ramp', async () => {
      await Promise.all(
        clients.map(async (client, u) => {
          for (let i = u; i < RUNS; i += USERS) runIds.push({ client, runId: (await client.request(`hold ${i}`, { agent: 'hold' })).runId as string });
        }),
      );
      await until(() => feed.view().message.totals.run.active === RUNS || undefined, `${RUNS} live runs`, 120_000, 50);
      await until(async () => (await page.locator('#totals').textContent())?.startsWith(`${RUNS} live runs`), 'the page to show them', 30_000, 50);
    }),
  );
  let followMs: number[] = [];
  let viewMs = 0;
  results.push(
    await phase('steady', async () => {
      const end = Date.now() + STEADY_S * 1000;
      followMs = [];
      // Following a run: click its row, wait until the page shows its state.
      for (let i = 0; Date.now() < end && i < 5; i++) {
        const t = Date.now();
        await page.locator('#runs tr[data-actor] button').nth(i * 7).click();
        await until(async () => (await page.locator('#focus-state').textContent()) === 'running.working', 'followed');
        followMs.push(Date.now() - t);
      }
      // Building one feed view over every actor, on the server.
      const t = process.hrtime.bigint();
      for (let i = 0; i < 20; i++) feed.view();
      viewMs = Number(process.hrtime.bigint() - t) / 1e6 / 20;
      await page.evaluate('document.querySelector("#live .side").scrollTop = 0');
      await page.screenshot({ path: join(import.meta.dirname, '..', 'tests', '.artifacts', 'screenshots', `visualizer-${RUNS}-runs.png`) });
      while (Date.now() < end) await page.waitForTimeout(250);
    }),
  );
  results.push(
    await phase('release', async () => {
      release();
      await Promise.all(runIds.map((r) => r.client.runEvents(r.runId)));
      await until(() => feed.view().message.totals.run.active === 0 || undefined, 'every run finished', 60_000, 50);
      await until(async () => (await page.locator('#totals').textContent())?.startsWith('0 live runs'), 'the page to show it', 30_000, 50);
    }),
  );
  const commit = execSync('git rev-parse --short HEAD').toString().trim();
  const out = {
    commit,
    backend: primaryBackend,
    runs: RUNS,
    feedIntervalMs: feed.intervalMs,
    feedMaxActors: feed.maxActors,
    followMs,
    serverViewMsWith1000Actors: round(viewMs),
    phases: results,
  };
  console.table(results);
  console.info(JSON.stringify({ followMs, serverViewMs: out.serverViewMsWith1000Actors }));
  writeFileSync(join(import.meta.dirname, 'results', `debug-feed-${commit}-${RUNS}.json`), `${JSON.stringify(out, null, 2)}\n`);
  await browser.close();
  await server.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
