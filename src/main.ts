#!/usr/bin/env node
// `npm start` and the `agentwire` bin: one agentwire process with the built-in agents.
// The platform check comes first, before uWebSockets.js is loaded (cli.js loads it): a Node
// without a native build stops here with one line, never at its first request.
import { exitUnlessNativeUws } from './startup/uws-check.js';

exitUnlessNativeUws();
const { runServer } = await import('./cli.js');
// npm sets npm_command for what it runs (`npm start`, `npx agentwire`): such a server follows npm.
void runServer({ followParent: process.env.npm_command !== undefined });
