// globalSetup of the faults project: one line when PostgreSQL's server binaries are missing
// (the files then skip); and the fault drills' server (tests/faults/fixtures/node.ts) bundled once
// for the whole run, so that each of the suite's many process starts is quick
// (tests/helpers/node-process.ts starts FAULT_NODE_BUNDLE when it is set). FAULT_NODE_BUNDLE=off
// runs the processes from the TypeScript sources instead (tsx), with their own stack traces.
import { bundleServer } from '../faults/fixtures/bundle.js';
import { announce } from '../helpers/requirements.js';

export default async function setup(): Promise<void> {
  announce('faults');
  if (process.env.FAULT_NODE_BUNDLE === 'off') delete process.env.FAULT_NODE_BUNDLE;
  else process.env.FAULT_NODE_BUNDLE = await bundleServer('tests/faults/fixtures/node.ts', '.faults');
}
