// The README's "Try the golden path" snippet, as the README has it, run twice by `sh` in a
// directory outside the repository (no node_modules to borrow a client from) against a real
// server: a newcomer runs it, then runs it again.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';

const repo = resolve(import.meta.dirname, '../..');

/**
 * Runs `script` with `sh` in its own process group. A snippet that hangs is stopped whole (sh and
 * the node it started) after `limitMs`: the limit only frees the machine; the assertions decide.
 */
function sh(script: string, cwd: string, env: NodeJS.ProcessEnv, limitMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn('sh', ['-c', script], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const limit = setTimeout(() => {
      stderr += `\n(stopped after ${limitMs} ms)`;
      process.kill(-child.pid!, 'SIGKILL');
    }, limitMs);
    child.on('error', fail);
    child.on('close', () => {
      clearTimeout(limit);
      done({ stdout, stderr });
    });
  });
}

/** The first `sh` block after "Try the golden path" in README.md. */
function readmeSnippet(): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const at = readme.indexOf('Try the golden path');
  expect(at, 'README.md has no "Try the golden path"').toBeGreaterThanOrEqual(0);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block, 'no ```sh block after "Try the golden path"').not.toBeNull();
  return block![1]!;
}

describe.each(backends)('the README golden-path snippet on %s', (backend) => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await startServer(backend);
    dir = mkdtempSync(join(tmpdir(), 'agentwire-readme-'));
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('run twice from a directory outside the repository, prints agent_completed both times (register 201, then 409)', async () => {
    expect(relative(repo, dir).startsWith('..'), `${dir} is inside the repository`).toBe(true);
    const port = new URL(server.url).port;
    let addresses = 0;
    const script = readmeSnippet().replace(/(?:127\.0\.0\.1|localhost):8080\b/g, () => {
      addresses++;
      return `127.0.0.1:${port}`;
    });
    // register, login, socket: the snippet talks to the server the README starts (port 8080).
    expect(addresses).toBe(3);

    // Nothing from this process's environment that could lend the snippet a module or a flag.
    const env = { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: dir, LANG: 'C.UTF-8' };
    for (let i = 0; i < 2; i++) {
      const { stdout, stderr } = await sh(script, dir, env, 25_000);
      const lines = stdout.split('\n');
      const types = lines.map((l) => l.split(' ')[0]);
      expect(types.filter((t) => t === 'agent_completed'), `run ${i + 1} printed:\n${stdout}\nstderr:\n${stderr}`).toHaveLength(1);
      expect(lines[0]).toBe(i === 0 ? 'register: 201' : 'register: 409');
      expect(types.slice(1, 4)).toEqual(['session_ready', 'run_accepted', 'agent_started']);
    }
  });
});
