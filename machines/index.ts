// The registry of statecharts: what the visualizer draws and `machines:export` writes.
import { runMachine } from './run.machine.js';
import { sessionMachine } from './session.machine.js';

export { runMachine, sessionMachine };
export const machines = { run: runMachine, session: sessionMachine } as const;
