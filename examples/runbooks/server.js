// @ts-check
// The example's server: agentwire with the on-call agent, configured from the environment like
// `npm start` (PORT, AGENTWIRE_DATA_DIR, DATABASE_URL …). SIGTERM drains and exits.
import { join } from 'node:path';
import { createServer, optionsFromEnv } from 'agentwire';
import { oncall, searchRunbooks } from './agent.js';
import { RunbookStore } from './runbooks.js';

const runbooks = new RunbookStore(join(import.meta.dirname, 'runbooks'));
const server = await createServer({
  ...optionsFromEnv(),
  agents: [oncall],
  tools: [searchRunbooks],
  toolContext: () => ({ runbooks }),
});
console.log(`runbooks example listening on ${server.url}`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
process.once('SIGINT', () => void server.close().then(() => process.exit(0)));
