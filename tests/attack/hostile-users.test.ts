// Hostile users against one real server (one start, to keep the suite fast): fuzzed frames
// (frames-fuzz.ts), fuzzed HTTP requests (http-fuzz.ts) and every id-taking route and frame probed
// with another user's ids (cross-user.ts). Each part registers its own users and checks its own leaks.
import { afterAll, beforeAll } from 'vitest';
import type { Agent } from '../../src/agents/types.js';
import { primaryBackend } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';
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
const getServer = (): TestServer => {
  if (!server) throw new Error('server not started');
  return server;
};

beforeAll(async () => {
  server = await startServer(primaryBackend, {
    agents: [echoAgent, holdAgent],
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
