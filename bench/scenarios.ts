// The scenarios of `npm run bench`. Each takes a launched target, drives it from this process
// over loopback, and returns figures; none asserts anything. Latencies are measured from the
// moment the request frame was written to the moment the event arrived, in this process.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { counters, LoadSocket, openMany, seen, type RunTrack } from './lib/load.js';
import { latencySummary, round } from './lib/stats.js';
import type { Target } from './lib/targets.js';
import { countRows } from './lib/users.js';
import { cpuTicks, postgresTicks, TICK_MS } from './lib/cpu.js';

const openAll = async (t: Target, n: number, how: 'register' | 'seed', parallel = 100) => {
  const tokens = await t.users(n, how);
  return openMany(n, (i) => LoadSocket.open(t.server.wsUrl, tokens[i]), parallel);
};

const closeAll = (sockets: LoadSocket[]) => sockets.forEach((s) => s.close());

/** Resolves when `done()` holds, checking every 20 ms; rejects after `limitMs` (a stuck benchmark must end). */
async function until(done: () => boolean, limitMs: number, what: string): Promise<void> {
  const end = performance.now() + limitMs;
  while (!done()) {
    if (performance.now() > end) throw new Error(`benchmark gave up waiting for ${what}`);
    await sleep(20);
  }
}

const snapshot = () => ({ ...counters, errorCodes: new Map(seen.errorCodes), closeCodes: new Map(seen.closeCodes) });
/** What changed since `before`, by code too: a refusal or a close is only useful with its code. */
const since = <K>(now: Map<K, number>, then: Map<K, number>) =>
  Object.fromEntries([...now].map(([k, n]) => [String(k), n - (then.get(k) ?? 0)]).filter(([, n]) => (n as number) > 0));
const delta = (before: ReturnType<typeof snapshot>) => ({
  gaps: counters.gaps - before.gaps,
  duplicates: counters.duplicates - before.duplicates,
  errors: counters.errors - before.errors,
  serverCloses: counters.serverCloses - before.serverCloses,
  errorCodes: since(seen.errorCodes, before.errorCodes),
  closeCodes: since(seen.closeCodes, before.closeCodes),
});

/** (a) Closed loop: each socket asks, waits for the terminal event, asks again. */
export async function closedLoop(t: Target, o: { sockets: number; seconds: number; warmupSeconds: number; text: string; ready?: () => Promise<void> }) {
  const sockets = await openAll(t, o.sockets, 'register');
  // (bench:profile starts its measurement here: registering and logging in is not a run's cost.)
  await o.ready?.();
  const before = snapshot();
  const latencies: number[] = [];
  const start = performance.now();
  const from = start + o.warmupSeconds * 1000;
  const end = from + o.seconds * 1000;
  let active = sockets.length;
  for (const s of sockets) {
    s.onRunDone = (r: RunTrack) => {
      const now = performance.now();
      if (r.sentAt! >= from && now <= end) latencies.push(now - r.sentAt!);
      if (now < end) s.request(o.text, t.agent);
      else active--;
    };
    s.request(o.text, t.agent);
  }
  await until(() => active === 0, (o.warmupSeconds + o.seconds + 60) * 1000, 'the closed loop to finish');
  closeAll(sockets);
  return { runsPerSec: round(latencies.length / o.seconds), ...latencySummary(latencies), ...delta(before) };
}

/** (b) Open loop: requests at a fixed rate spread over many sockets, whatever the answers do. */
export async function openLoop(t: Target, o: { sockets: number; rate: number; seconds: number; warmupSeconds: number; text: string }) {
  const sockets = await openAll(t, o.sockets, 'seed');
  const before = snapshot();
  const toStart: number[] = [];
  const toEnd: number[] = [];
  const start = performance.now();
  const from = start + o.warmupSeconds * 1000;
  const end = from + o.seconds * 1000;
  let sent = 0;
  let done = 0;
  let measuredSent = 0;
  for (const s of sockets) {
    s.onRunDone = (r) => {
      done++;
      if (r.sentAt! < from || r.sentAt! > end) return;
      toStart.push(r.startedAt! - r.sentAt!);
      toEnd.push(r.terminalAt! - r.sentAt!);
    };
  }
  // Sends what the schedule says is due; a late timer sends the backlog at once (no coordinated omission of load).
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - start) / 1000) * o.rate);
    while (sent < due) {
      if (performance.now() >= from) measuredSent++;
      sockets[sent % sockets.length]!.request(o.text, t.agent);
      sent++;
    }
    await sleep(1);
  }
  await until(() => done >= sent, 60_000, 'the open loop’s runs to finish').catch(() => undefined);
  closeAll(sockets);
  return { rate: o.rate, sent, completed: done, measured: measuredSent, started: latencySummary(toStart), terminal: latencySummary(toEnd), ...delta(before) };
}

/**
 * (c) Streams paced like a model: `runs` sockets each start one run at the same moment, and each
 * run makes an answer piece every `pieceMs` ms for `seconds` s (bench_model, coalesced as the LLM
 * agent does, its flush window from the server's LLM_OUTPUT_FLUSH_MS). Each piece carries the time
 * it was made: for every stored output a client receives, the wait of its oldest piece, from the
 * agent to the client. Also the stored rows per run, and the server's and PostgreSQL's CPU per
 * second of streaming.
 */
export async function modelStreams(t: Target, o: { runs: number; pieceMs: number; seconds: number }) {
  const sockets = await openAll(t, o.runs, 'seed');
  const before = snapshot();
  const waits: number[] = [];
  let ended = 0;
  let completed = 0;
  for (const s of sockets) {
    s.onFrame = (f) => {
      if (f.type !== 'agent_output' || typeof f.text !== 'string') return;
      const made = /@(\d+) /.exec(f.text);
      // Date.now() on both sides: the server and this generator share the machine's clock.
      if (made) waits.push(Date.now() - Number(made[1]));
    };
    s.onRunDone = (r) => {
      ended++;
      if (r.terminal === 'agent_completed') completed++;
    };
  }
  const pid = t.server.child.pid!;
  const cpu0 = { server: cpuTicks(pid), postgres: postgresTicks() };
  const t0 = performance.now();
  const text = `model ${Math.round((o.seconds * 1000) / o.pieceMs)} ${o.pieceMs}`;
  for (const s of sockets) s.request(text, t.agent);
  await until(() => ended >= sockets.length, (o.seconds + 120) * 1000, 'the streams to end').catch(() => undefined);
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpuMs = { server: (cpuTicks(pid) - cpu0.server) * TICK_MS, postgres: (postgresTicks() - cpu0.postgres) * TICK_MS };
  closeAll(sockets);
  const storedRowsPerRun = t.databaseUrl
    ? round((await countRows(t.databaseUrl, 'SELECT count(*) AS n FROM run_events')) / (await countRows(t.databaseUrl, 'SELECT count(*) AS n FROM runs')))
    : undefined;
  return {
    runs: o.runs,
    completed,
    wallSeconds: round(wallSeconds),
    outputWaitMs: latencySummary(waits),
    storedRowsPerRun,
    // Cores busy while the streams ran (1 = one core), and per run per second of streaming.
    serverCores: round(cpuMs.server / 1000 / wallSeconds, 2),
    postgresCores: round(cpuMs.postgres / 1000 / wallSeconds, 2),
    serverCpuMsPerRunSecond: round(cpuMs.server / (o.runs * o.seconds), 3),
    ...delta(before),
  };
}

/** (d) Idle sessions: resident memory per authenticated, idle socket after a full GC. */
export async function idleSessions(t: Target, o: { sessions: number }) {
  const tokens = await t.users(o.sessions + 1, 'seed');
  // Warm the code paths with one session, so the baseline includes what the first one loads.
  const warm = await LoadSocket.open(t.server.wsUrl, tokens[o.sessions]);
  warm.close();
  await sleep(200);
  const baseline = await t.server.memoryAfterGc();
  const sockets = await openMany(o.sessions, (i) => LoadSocket.open(t.server.wsUrl, tokens[i]), 200);
  await sleep(500);
  const loaded = await t.server.memoryAfterGc();
  closeAll(sockets);
  return {
    sessions: o.sessions,
    baselineRssMb: round(baseline.rss / 2 ** 20),
    loadedRssMb: round(loaded.rss / 2 ** 20),
    bytesPerSession: Math.round((loaded.rss - baseline.rss) / o.sessions),
    heapBytesPerSession: Math.round((loaded.heapUsed - baseline.heapUsed) / o.sessions),
  };
}

/** (e) Runs in progress on every socket; all sockets dropped at once, reconnect, resume. */
export async function massReconnect(t: Target, o: { sockets: number; steps: number; stepMs: number }) {
  const tokens = await t.users(o.sockets, 'seed');
  const first = await openMany(o.sockets, (i) => LoadSocket.open(t.server.wsUrl, tokens[i]), 100);
  const before = snapshot();
  first.forEach((s) => s.request(`paced ${o.steps} ${o.stepMs}`, t.agent));
  // Every run under way with a few events seen before the drop.
  await until(() => first.every((s) => [...s.runs.values()].some((r) => r.lastSeq >= 3)), 120_000, 'runs to get under way');
  const tracks = first.map((s) => [...s.runs.values()][0]!);
  const dropAt = performance.now();
  closeAll(first);
  const caughtUp: number[] = new Array<number>(o.sockets).fill(NaN);
  let finished = 0;
  const second = await openMany(
    o.sockets,
    async (i) => {
      const s = await LoadSocket.open(t.server.wsUrl, tokens[i]);
      const track = tracks[i]!;
      track.sentAt ??= 0;
      s.adopt([track]);
      const listed = s.ready?.runs?.find((r) => r.runId === track.runId);
      const target = listed?.lastSeq ?? track.lastSeq;
      const check = () => {
        if (Number.isNaN(caughtUp[i]) && track.lastSeq >= target) caughtUp[i] = performance.now() - dropAt;
      };
      s.onFrame = () => queueMicrotask(check);
      s.onRunDone = () => finished++;
      s.resume([{ runId: track.runId, afterSeq: track.lastSeq }]);
      check();
      return s;
    },
    o.sockets, // everyone reconnects at once, as after a network blip
  );
  await until(() => caughtUp.every((x) => !Number.isNaN(x)), 60_000, 'every socket to catch up').catch(() => undefined);
  await until(() => finished === o.sockets, (o.steps * o.stepMs) + 60_000, 'every run to finish').catch(() => undefined);
  closeAll(second);
  const reached = caughtUp.filter((x) => !Number.isNaN(x));
  return { sockets: o.sockets, caughtUp: reached.length, finished, catchUp: latencySummary(reached), ...delta(before) };
}

/** (f) Soak: an open loop at a fixed rate for a long time; resident memory sampled, server closes counted. */
export async function soak(t: Target, o: { sockets: number; rate: number; seconds: number; warmupSeconds: number; text: string }) {
  const sockets = await openAll(t, o.sockets, 'seed');
  const before = snapshot();
  const samples: Array<{ s: number; rssMb: number }> = [];
  const start = performance.now();
  const end = start + o.seconds * 1000;
  let sent = 0;
  let done = 0;
  for (const s of sockets) s.onRunDone = () => done++;
  let nextSample = start;
  let warmMemory: { rss: number; heapUsed: number } | undefined;
  while (performance.now() < end) {
    const now = performance.now();
    const due = Math.floor(((now - start) / 1000) * o.rate);
    while (sent < due) {
      sockets[sent % sockets.length]!.request(o.text, t.agent);
      sent++;
    }
    if (now >= nextSample) {
      samples.push({ s: round((now - start) / 1000, 0), rssMb: round(t.server.rss() / 2 ** 20) });
      nextSample += 5_000;
    }
    if (!warmMemory && now - start >= o.warmupSeconds * 1000) warmMemory = await t.server.memoryAfterGc();
    await sleep(2);
  }
  await until(() => done >= sent, 60_000, 'the soak’s runs to finish').catch(() => undefined);
  const endMemory = await t.server.memoryAfterGc();
  closeAll(sockets);
  const warm = warmMemory ?? endMemory;
  return {
    rate: o.rate,
    seconds: o.seconds,
    sent,
    completed: done,
    rssAfterWarmupMb: round(warm.rss / 2 ** 20),
    rssEndMb: round(endMemory.rss / 2 ** 20),
    rssGrowthPct: round(((endMemory.rss - warm.rss) / warm.rss) * 100),
    heapAfterWarmupMb: round(warm.heapUsed / 2 ** 20),
    heapEndMb: round(endMemory.heapUsed / 2 ** 20),
    samples,
    ...delta(before),
  };
}
