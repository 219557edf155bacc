// The agent on agentwire's test harness: a real embedded runtime (PGlite in memory), the events a
// client gets, and the run statechart's verdict. Run with `npm test` (node --test).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertGrammar, createHarness } from 'agentwire/testing';
import { oncall, searchRunbooks } from './agent.js';
import { RunbookStore } from './runbooks.js';

const runbooks = new RunbookStore(join(import.meta.dirname, 'runbooks'));
/** @type {import('agentwire/testing').Harness} */
let h;
before(async () => {
  h = await createHarness({ agents: [oncall], tools: [searchRunbooks], toolContext: () => ({ runbooks }) });
});
after(() => h.close());

test('finds the runbook for a database outage and keeps the event order', async () => {
  const run = await h.run('the database is down, connection refused');
  assertGrammar(run);
  assert.deepEqual(
    run.events.map((e) => e.type),
    ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_thinking', 'agent_output', 'agent_output', 'agent_completed'],
  );
  assert.match(run.text ?? '', /PostgreSQL is down/);
  assert.deepEqual(run.terminal.type === 'agent_completed' && run.terminal.data, { runbooks: ['database-down.md', 'disk-full.md'] });
});

test('says so when nothing matches', async () => {
  const run = await h.run('zzz qqq');
  assertGrammar(run);
  assert.match(run.text ?? '', /No runbook matches/);
});
