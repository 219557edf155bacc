// The package as a user gets it: `npm pack`, the tarball installed into an empty directory (one
// install, shared by both examples, its time printed), the examples' own tests run with
// `node --test`, their JavaScript type-checked against the installed declarations, each example
// started with `node server.js`, and the golden path asked through the SDK from `agentwire/client`
// (with `ws`, as a Node 20 user would). The AI SDK example's model is the local server speaking
// OpenAI's Chat Completions stream.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/protocol/events.js';
import { answer, callTool, chunk, FakeProvider } from '../helpers/llm-provider.js';
import { until } from '../helpers/wait.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const PINNED = { zod: '4.6.7', ai: '6.0.326', '@ai-sdk/openai-compatible': '2.0.92', ws: '8.18.3' };

/** The newest modification time under `dir` (files the build reads). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** dist/ as fresh as the sources: `npm pack` runs `prepare` otherwise, and a stale dist would test old code. */
async function freshDist(): Promise<void> {
  const built = join(ROOT, 'dist', 'src', 'index.js');
  const sources = Math.max(...['src', 'machines', 'client/src', 'web', 'debug'].map((d) => newest(join(ROOT, d))), statSync(join(ROOT, 'package.json')).mtimeMs);
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  console.log('package test: dist/ is older than the sources: npm run build');
  await run('npm', ['run', 'build'], { cwd: ROOT });
}

// The golden path as a user writes it: register, log in, connect with the SDK, ask, print each event.
const CLIENT = `
import { AgentwireClient } from 'agentwire/client';
import WebSocket from 'ws';
const [url, agent, text] = process.argv.slice(2);
const creds = JSON.stringify({ username: 'ada_' + process.pid, password: 'correct horse battery' });
await fetch(url + '/v1/auth/register', { method: 'POST', body: creds });
const { token } = await (await fetch(url + '/v1/auth/login', { method: 'POST', body: creds })).json();
const client = new AgentwireClient({ url: url.replace(/^http/, 'ws') + '/v1/ws', token, WebSocket });
await client.connect();
const run = await client.ask(text, { agent });
for await (const event of run) console.log(JSON.stringify(event));
client.close();
`;

describe('the packed package, installed into an empty directory, runs both examples', () => {
  let dir: string;
  let tarball: string;
  const provider = new FakeProvider();
  const servers: ChildProcess[] = [];

  beforeAll(async () => {
    await freshDist();
    dir = mkdtempSync(join(tmpdir(), 'agentwire-pack-'));
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; size: number; unpackedSize: number; entryCount: number }>;
    tarball = join(dir, info!.filename);
    console.log(`package test: ${info!.filename}: ${(info!.size / 1024).toFixed(0)} kB packed, ${(info!.unpackedSize / 1024 / 1024).toFixed(1)} MB unpacked, ${info!.entryCount} files`);

    const app = join(dir, 'app');
    cpSync(join(ROOT, 'examples'), app, { recursive: true, filter: (src) => !src.includes('node_modules') && !src.endsWith('package-lock.json') });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'examples', private: true, type: 'module' }));
    writeFileSync(join(app, 'client.js'), CLIENT);
    // One install for both examples: agentwire from the tarball, the rest at the examples' pins.
    const started = Date.now();
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock', tarball, ...Object.entries(PINNED).map(([n, v]) => `${n}@${v}`)], { cwd: app });
    console.log(`package test: npm install of the tarball and the examples' dependencies took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await provider.start();
  }, 300_000);

  afterAll(async () => {
    for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
    await provider.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const app = () => join(dir, 'app');

  it('the examples type-check against the installed declarations', async () => {
    writeFileSync(
      join(app(), 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { allowJs: true, checkJs: false, noEmit: true, strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', skipLibCheck: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] },
        include: ['runbooks/*.js', 'ai-sdk-agent/*.js'],
      }),
    );
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app()], { cwd: app() }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? String(err) }));
    expect(tsc.stdout).toBe('');
  }, 120_000);

  for (const example of ['runbooks', 'ai-sdk-agent']) {
    it(`${example}: its own tests pass on agentwire/testing (node --test)`, async () => {
      const out = await run(process.execPath, ['--test'], { cwd: join(app(), example) });
      expect(out.stdout).toMatch(/# fail 0/);
    }, 120_000);
  }

  /** `node server.js` in an example's folder; resolves with the URL it printed. */
  async function startExample(example: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
    const child = spawn(process.execPath, ['server.js'], {
      cwd: join(app(), example),
      env: { ...process.env, PORT: '0', AGENTWIRE_DATA_DIR: join(dir, `data-${example}`), LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    servers.push(child);
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
      child.once('exit', (code) => reject(new Error(`${example} exited with ${code}: ${out}`)));
    });
    return { url, child };
  }

  async function askWithTheSdk(url: string, agent: string, text: string): Promise<RunEvent[]> {
    const out = await run(process.execPath, ['client.js', url, agent, text], { cwd: app() });
    const events = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as RunEvent);
    console.log(`package test: ${agent}'s golden path as agentwire/client saw it:\n${events.map((e) => `  ${e.seq} ${e.type}${'tool' in e ? ` ${e.tool}` : ''}${'text' in e ? ` ${JSON.stringify(e.text.slice(0, 60))}` : ''}`).join('\n')}`);
    return events;
  }

  async function stopGracefully(child: ChildProcess): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    return exited;
  }

  /** A command npm runs; resolves with npm's process and the URL the server logged. */
  async function underNpm(args: string[], cwd: string): Promise<{ npm: ChildProcess; url: string }> {
    const npm = spawn('npm', args, { cwd, env: { ...process.env, PORT: '0', AGENTWIRE_DATA_DIR: join(dir, `data-npm-${args[0]}`), LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    servers.push(npm);
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      npm.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /agentwire listening on (http:\/\/[^"\s]+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      npm.stderr!.on('data', (b: Buffer) => (out += b.toString()));
      npm.once('exit', (code) => reject(new Error(`npm ${args.join(' ')} exited with ${code}: ${out}`)));
    });
    return { npm, url };
  }
  const gone = (url: string) =>
    until(
      () => fetch(`${url}/healthz`).then(() => false, () => true),
      `nothing answering on ${url}`,
      20_000,
      100,
    );

  it('npx agentwire (the bin) under a process manager: SIGTERM to npm stops the server, nothing left holding the port', async () => {
    const { npm, url } = await underNpm(['exec', '--', 'agentwire'], app());
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    npm.kill('SIGTERM');
    await gone(url);
  }, 60_000);

  it('npm start in the repository: SIGTERM to npm reaches the server, which drains and exits 0 before npm does', async () => {
    const { npm, url } = await underNpm(['start'], ROOT);
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    npm.kill('SIGTERM');
    expect(await exited).toBe(0);
    await gone(url);
  }, 60_000);

  it('runbooks: started with node server.js, the golden path through agentwire/client', async () => {
    const { url, child } = await startExample('runbooks', {});
    const events = await askWithTheSdk(url, 'oncall', 'the disk is full');
    expect(events.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_thinking', ...events.slice(5, -1).map(() => 'agent_output'), 'agent_completed']);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[2]).toMatchObject({ tool: 'search_runbooks', args: { query: 'the disk is full' } });
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: expect.stringContaining('The disk is full') });
    expect(await stopGracefully(child)).toBe(0);
  }, 120_000);

  it('ai-sdk-agent: started with node server.js against an OpenAI-compatible server, the golden path through agentwire/client', async () => {
    provider.enqueue(
      { chunks: [chunk.role(), chunk.reasoning('Look the order up.'), ...callTool('call_1', 'lookup_order', { orderId: 'A-1002' }).slice(1)] },
      { chunks: answer(['A-1002 ', 'is being packed; ', 'expected 2026-12-05.']) },
    );
    const { url, child } = await startExample('ai-sdk-agent', { MODEL_BASE_URL: provider.url, MODEL_NAME: 'gpt-4o-mini' });
    const events = await askWithTheSdk(url, 'support', 'Where is A-1002?');
    expect(events.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_output', 'agent_completed']);
    expect(events[3]).toMatchObject({ tool: 'lookup_order', ok: true, result: { id: 'A-1002', status: 'packing' } });
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', text: 'A-1002 is being packed; expected 2026-12-05.' });
    expect(provider.requests.at(-1)!.body.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_1' });
    expect(await stopGracefully(child)).toBe(0);
  }, 120_000);
});
