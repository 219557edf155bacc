// Real agentwire processes for fault tests, started from tests/faults/fixtures/node.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = join(import.meta.dirname, '..', '..');

export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  wsUrl: string;
  nodeId: string;
  lines: string[];
  /** What the process wrote to stderr, as it came (also interleaved into `lines`). */
  stderr: string[];
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  /** Peak resident memory (VmHWM) in KiB, read from /proc while the process lives. */
  peakRssKb(): number | undefined;
}

export const TEST_SECRET = 'fault-test-secret-fault-test-secret-0123456789';

/**
 * `nodeArgs`: before the script; a script bundled to JavaScript needs no tsx. By default the fault
 * drills' server: bundled when the faults project's setup made FAULT_NODE_BUNDLE (tests/setup/faults.ts).
 */
const bundled = process.env.FAULT_NODE_BUNDLE;
export function startNode(
  env: Record<string, string>,
  script = bundled ?? 'tests/faults/fixtures/node.ts',
  nodeArgs: string[] = script === bundled ? [] : ['--import', 'tsx'],
): Promise<NodeProcess> {
  // `node --import tsx`, not the tsx CLI: the CLI runs the script in a child process, and a
  // SIGKILL meant for the server would kill only the wrapper.
  const child = spawn(process.execPath, [...nodeArgs, script], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: TEST_SECRET,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
      REQUESTS_PER_MINUTE: '100000',
      // Tests drive far more traffic per user than a person would; tests/attack sets the real limits.
      FRAMES_PER_SECOND: '100000',
      HTTP_REQUESTS_PER_MINUTE: '1000000',
      REGISTRATIONS_PER_ADDRESS: '1000000',
      // Mass reconnects open new sockets before the server has seen the old ones close.
      MAX_SOCKETS_PER_USER: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (!line.includes('agentwire listening on')) return;
      const parsed = JSON.parse(line) as { url: string; node: string };
      resolve({
        child,
        pid: child.pid!,
        url: parsed.url,
        wsUrl: `${parsed.url.replace('http', 'ws')}/v1/ws`,
        nodeId: parsed.node,
        lines,
        stderr,
        exited,
        kill: (signal) => child.kill(signal),
        peakRssKb: () => readPeakRss(child.pid!),
      });
    });
    child.stderr!.on('data', (d: Buffer) => {
      lines.push(d.toString());
      stderr.push(d.toString());
    });
    void exited.then((code) => reject(new Error(`node exited with ${code} before listening:\n${lines.slice(-20).join('\n')}`)));
  });
}

function readPeakRss(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m?.[1] ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
