// Server processes for benchmarks: each is a real process started with `node --import tsx`, the
// load generator (this process) talks to it over loopback only. Servers print one JSON line with
// `listening` and their port; they answer `{gc: true}` over IPC with their memory after a full GC
// (they run with --expose-gc), so resident memory can be compared after garbage is gone.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

// BENCH_SERVER_ROOT runs the servers from another checkout (e.g. a worktree of an older commit),
// so two versions can be compared in one interleaved run.
const root = () => process.env.BENCH_SERVER_ROOT ?? join(import.meta.dirname, '..', '..');

export interface ServerProcess {
  name: string;
  child: ChildProcess;
  port: number;
  url: string;
  wsUrl: string;
  lines: string[];
  /** Resident memory in bytes after two full GCs in the server. */
  memoryAfterGc(): Promise<{ rss: number; heapUsed: number }>;
  /** Current resident memory (VmRSS) in bytes, read from /proc without disturbing the server. */
  rss(): number;
  stop(): Promise<void>;
  /** With BENCH_PROBE=1 in the server's environment: start, or stop and read, its statement census and CPU profile (lib/probe.ts). */
  probe(what: 'start' | 'stop'): Promise<unknown>;
}

export interface MemoryReply {
  rss: number;
  heapUsed: number;
}

export async function startServer(name: string, script: string, env: Record<string, string>, wsPath = '/v1/ws'): Promise<ServerProcess> {
  // BENCH_NODE_ARGS adds flags to the servers (e.g. --cpu-prof to profile them).
  const extra = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, ['--expose-gc', ...extra, '--import', 'tsx', script], {
    cwd: root(),
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const lines: string[] = [];
  child.stderr!.on('data', (d: Buffer) => lines.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 200) lines.splice(0, 100);
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(line) ?? /"listening":(\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`${name} exited before listening:\n${lines.slice(-20).join('\n')}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    name,
    child,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}${wsPath}`,
    lines,
    memoryAfterGc: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m as MemoryReply));
        child.send({ gc: true });
      }),
    rss: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return Number(m?.[1] ?? NaN) * 1024;
    },
    probe: (what) =>
      new Promise((resolve) => {
        const on = (m: { probe?: unknown }) => {
          if (m.probe === undefined) return;
          child.off('message', on);
          resolve(m.probe);
        };
        child.on('message', on);
        child.send({ probe: what });
      }),
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** For server scripts: answer the load generator's GC requests (the process runs with --expose-gc). */
export function answerGcRequests(): void {
  if (process.env.BENCH_PROBE === '1') void import('./probe.js');
  process.on('message', (m: { gc?: boolean }) => {
    if (!m.gc) return;
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    process.send?.({ rss, heapUsed } satisfies MemoryReply);
  });
}
