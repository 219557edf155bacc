// One port, one data directory, one process (issue 14, item 12). `npm start`'s command as real
// processes: a second one on a taken port exits with 3 and says which port; a second one on a
// data directory in use exits with 4 and names the holder's pid; after the holder is SIGKILLed
// (its lock left behind) the next start takes the directory over and finds its data. Processes on
// the embedded database start slowly on a busy machine, hence the long timeouts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/config/data-dir-lock.js';

const root = join(import.meta.dirname, '..', '..');

interface Proc {
  child: ChildProcess;
  /** stdout lines (JSON logs) and stderr chunks, in arrival order. */
  output: string[];
  stderr: string[];
  exited: Promise<number | null>;
  /** Resolves with the URL once it logged "listening"; rejects if it exits first. */
  listening: Promise<string>;
}

const started: Proc[] = [];

/** `npm start`'s command on the embedded database. */
function start(env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: '', JWT_SECRET: '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const m = /agentwire listening on (http:\/\/[\d.]+:\d+)/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`exited with ${code}:\n${output.join('\n')}`)));
  });
  listening.catch(() => undefined);
  child.stderr!.on('data', (d: Buffer) => {
    output.push(d.toString());
    stderr.push(d.toString());
  });
  const p = { child, output, stderr, exited, listening };
  started.push(p);
  return p;
}

/**
 * A port free right now. The first process must be given a number, as an operator would: Linux
 * lets a second listener share a port only when the first asked for it by number, not for port 0.
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** How a start that should fail ended: its exit code, or 'listening' if it started after all. */
function outcome(p: Proc): Promise<number | null | 'listening'> {
  return Promise.race([p.exited, p.listening.then(() => 'listening' as const)]);
}

async function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  return p.exited;
}

describe('one process per port and per data directory', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'agentwire-owner-'));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    await Promise.all(started.map((p) => stop(p, 'SIGKILL')));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a second process on a port in use exits with 3 and names the port', async () => {
    const port = String(await freePort());
    const a = start({ AGENTWIRE_DATA_DIR: dir(), PORT: port });
    await a.listening;
    const b = start({ AGENTWIRE_DATA_DIR: dir(), PORT: port });
    expect(await outcome(b)).toBe(3);
    expect(b.stderr.join('')).toContain(`agentwire: port ${port} on 127.0.0.1 is already in use`);
    // The first one still serves the port alone.
    expect((await fetch(`${await a.listening}/readyz`)).status).toBe(200);
    expect(await stop(a)).toBe(0);
  }, 180_000);

  it('a second process on a data directory in use exits with 4 and names the holder; after a SIGKILL of the holder a restart takes it over', async () => {
    const dataDir = dir();
    const a = start({ AGENTWIRE_DATA_DIR: dataDir });
    const url = await a.listening;
    const creds = { username: 'owner_user', password: 'long enough password' };
    expect((await fetch(`${url}/v1/auth/register`, { method: 'POST', body: JSON.stringify(creds) })).status).toBe(201);

    const b = start({ AGENTWIRE_DATA_DIR: dataDir });
    expect(await outcome(b)).toBe(4);
    expect(b.stderr.join('')).toContain(`agentwire: data directory ${dataDir} is in use by process ${a.child.pid}`);

    // Killed without a chance to clean up: its lock stays behind, naming a process that is gone.
    expect(await stop(a, 'SIGKILL')).toBe(null);
    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: a.child.pid });

    const c = start({ AGENTWIRE_DATA_DIR: dataDir });
    const again = await c.listening;
    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: c.child.pid });
    // The account made before the crash is still there.
    expect((await fetch(`${again}/v1/auth/login`, { method: 'POST', body: JSON.stringify(creds) })).status).toBe(200);
    expect(await stop(c)).toBe(0);
    // A clean stop releases the directory.
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  }, 180_000);
});
