// `npm start` on a Node the installed uWebSockets.js has no native build for stops before
// anything listens, with one line on stderr and exit code 1. This machine has only Node 20, so
// the child is made to look like Node 22 (its version and module ABI) by a preload.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('npm start on a Node without a native uWebSockets.js', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentwire-node22-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 1 with one line saying what is supported and what to do, before listening', async () => {
    const dataDir = join(dir, 'data');
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './tests/e2e/fixtures/as-node-22.ts', 'src/main.ts'], {
      cwd: root,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', AGENTWIRE_DATA_DIR: dataDir, DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: string[] = [];
    const stderr: string[] = [];
    // Settles at the exit, or as soon as the server says it listens (the old behaviour: it then
    // died at its first request), so a regression fails here instead of hanging.
    const outcome = await new Promise<{ code: number | null } | 'listening'>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (l) => {
        stdout.push(l);
        if (l.includes('agentwire listening')) resolve('listening');
      });
      createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
      child.once('close', (code) => resolve({ code }));
    });
    if (outcome === 'listening') child.kill('SIGKILL');

    expect(outcome).toEqual({ code: 1 });
    expect(stdout).toEqual([]);
    expect(stderr).toEqual([
      'agentwire: uWebSockets.js has no native build for Node 22.12.0 (ABI 127) on ' +
        `${process.platform}-${process.arch}; the installed build has Node 16, 18 and 20 there: use Node 20 (20.19 or later), ` +
        'or for Node 22 and later point the uWebSockets.js alias at the official build (needs glibc 2.38): README, "Node versions"',
    ]);
    // Nothing was started: no data directory (and stderr above holds no uWS fallback warning).
    expect(existsSync(dataDir)).toBe(false);
  });
});
