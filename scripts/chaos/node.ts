// One process of the crash sweep: the production entry point (`runServer`), with the sweep's
// agents and tool beside the built-in analyst. Armed by AGENTWIRE_CRASH_AT (src/runs/crash-points.ts).
import { runServer } from '../../src/cli.js';
import type { Agent } from '../../src/agents/types.js';
import { approvedEffectTool, askerAgent, effectTool, llmAgent, scriptAgent, subAgent } from './agents.js';

const llm = llmAgent();
const agents: Agent[] = [scriptAgent, subAgent, askerAgent, ...(llm ? [llm] : [])];
void runServer({ agents, tools: [effectTool as never, approvedEffectTool as never] });
