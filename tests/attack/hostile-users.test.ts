// Hostile users against one real server (one start, to keep the suite fast): fuzzed frames
// (frames-fuzz.ts), fuzzed HTTP requests (http-fuzz.ts) and every id-taking route and frame probed
// with another user's ids (cross-user.ts). Each part registers its own users and checks its own leaks.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agents/types.js';
import { primaryBackend } from '../helpers/backends.js';
import { createLogger } from '../../src/log/logger.js';
import { startServer, type TestServer, type TestUser } from '../helpers/server.js';
import { describeCrossUser, holdAgent } from './cross-user.js';
import { describeFrameFuzzing } from './frames-fuzz.js';
import { describeHttpFuzzing } from './http-fuzz.js';

const echoAgent: Agent = {
  name: 'echo',
  description: 'test agent: answers with its input',
  async run(ctx) {
    await ctx.think('echoing');
    return { text: `echo: ${ctx.input.text}` };
  },
};

let server: TestServer | undefined;
/** Every log line the server writes, at debug level: checked for secrets and message text. */
const logLines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    logLines.push(chunk.toString('utf8'));
    done();
  },
});
const getServer = (): TestServer => {
  if (!server) throw new Error('server not started');
  return server;
};

beforeAll(async () => {
  server = await startServer(primaryBackend, {
    agents: [echoAgent, holdAgent],
    log: createLogger('debug', sink),
    // Failed logins from the HTTP fuzzer must not lock the helper's own logins out.
    env: { LOGIN_ATTEMPTS_PER_ADDRESS: '1000000', LOGIN_ATTEMPTS_PER_ACCOUNT: '1000000' },
  });
});
afterAll(async () => {
  await server?.stop();
});

describeFrameFuzzing(getServer);
describeHttpFuzzing(getServer);
describeCrossUser(getServer);

describe('logs', () => {
  let u: TestUser;
  const TEXT = `a private question ${Math.random().toString(36).slice(2)}`;
  it('carry no token, ticket, password or message text, even at debug level', async () => {
    const s = getServer();
    u = await s.register();
    const ticket = (await (await fetch(`${s.url}/v1/auth/ws-ticket`, { method: 'POST', headers: { authorization: `Bearer ${u.token}` } })).json()) as { ticket: string };
    const c = await s.connect(u.token);
    await c.waitType('session_ready');
    const acc = await c.request(TEXT, { agent: 'echo' });
    await c.runEvents(acc.runId as string);
    await c.close();
    const all = logLines.join('');
    expect(all.length).toBeGreaterThan(0);
    for (const secret of [u.token, u.password, ticket.ticket, TEXT]) expect(all).not.toContain(secret);
  });
});
