// `npm start`: one agentwire process with the built-in agents.
import { runServer } from './cli.js';

void runServer();
