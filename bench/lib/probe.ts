// For profiling only (BENCH_PROBE=1, see profile.ts), inside a server process:
// - counts every statement sent through `pg` by its text, with the time from the call to its
//   answer, and the time callers waited for a pooled connection. PostgreSQL's pg_stat_statements
//   needs a preloaded library the machine's server does not have; this sees the same statements
//   from the client side, waits included;
// - samples the main thread's CPU (the inspector's profiler) for the measured window only.
// Answers `{probe: 'start' | 'stop'}` over IPC; 'stop' replies with the census and writes the
// CPU profile (.cpuprofile) to BENCH_PROBE_PROFILE when it is set.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

interface Stat {
  n: number;
  ms: number;
}

const statements = new Map<string, Stat>();
const poolWait: Stat & { max: number } = { n: 0, ms: 0, max: 0 };

/** A statement's text, shortened to what names it (whitespace folded, first 100 characters). */
const label = (config: unknown): string => {
  const text = typeof config === 'string' ? config : ((config as { text?: string } | null)?.text ?? '?');
  return text.replace(/\s+/g, ' ').trim().slice(0, 100);
};

function record(key: string, ms: number): void {
  const s = statements.get(key);
  if (s) {
    s.n++;
    s.ms += ms;
  } else statements.set(key, { n: 1, ms });
}

type AnyFn = (...args: unknown[]) => unknown;

const clientQuery = pg.Client.prototype.query as unknown as AnyFn;
(pg.Client.prototype as unknown as { query: AnyFn }).query = function (this: pg.Client, ...args: unknown[]) {
  const key = label(args[0]);
  const t0 = performance.now();
  const cbAt = args.findIndex((a) => typeof a === 'function');
  if (cbAt >= 0) {
    const cb = args[cbAt] as AnyFn;
    args[cbAt] = (...r: unknown[]) => {
      record(key, performance.now() - t0);
      return cb(...r);
    };
    return clientQuery.apply(this, args);
  }
  const out = clientQuery.apply(this, args);
  if (out instanceof Promise) {
    void out.then(
      () => record(key, performance.now() - t0),
      () => record(key, performance.now() - t0),
    );
  }
  return out;
};

const poolConnect = pg.Pool.prototype.connect as unknown as AnyFn;
(pg.Pool.prototype as unknown as { connect: AnyFn }).connect = function (this: pg.Pool, ...args: unknown[]) {
  const t0 = performance.now();
  const waited = () => {
    const ms = performance.now() - t0;
    poolWait.n++;
    poolWait.ms += ms;
    poolWait.max = Math.max(poolWait.max, ms);
  };
  const cb = args[0];
  if (typeof cb === 'function') {
    return poolConnect.call(this, (...r: unknown[]) => {
      waited();
      return (cb as AnyFn)(...r);
    });
  }
  const out = poolConnect.apply(this, args) as Promise<unknown>;
  void out.then(waited, () => undefined);
  return out;
};

const inspector = new Session();
inspector.connect();

process.on('message', (m: { probe?: 'start' | 'stop' }) => {
  if (m.probe === 'start') {
    statements.clear();
    Object.assign(poolWait, { n: 0, ms: 0, max: 0 });
    void (async () => {
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.setSamplingInterval', { interval: 500 });
      await inspector.post('Profiler.start');
      process.send?.({ probe: true });
    })();
  } else if (m.probe === 'stop') {
    void (async () => {
      const { profile } = await inspector.post('Profiler.stop');
      if (process.env.BENCH_PROBE_PROFILE) writeFileSync(process.env.BENCH_PROBE_PROFILE, JSON.stringify(profile));
      process.send?.({ probe: { statements: [...statements].map(([text, s]) => ({ text, ...s })), poolWait } });
    })();
  }
});
