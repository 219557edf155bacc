// What the model sees of a tool: its name, description and the JSON schema of its zod input. The
// runtime still validates the model's arguments with the zod schema itself (a model may send
// anything), and an invalid call is answered to the model as an error it can correct.
import { z } from 'zod';
import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions';
import type { Tool } from '../types.js';

export function toolSpec(tool: Pick<Tool, 'name' | 'description' | 'input'>): ChatCompletionFunctionTool {
  // `io: 'input'`: fields with defaults are optional for the caller, which is what the model is.
  const schema = z.toJSONSchema(tool.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete schema.$schema;
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: schema } };
}

const askInput = z.strictObject({ task: z.string().min(1).max(8000).describe('The task, stated completely: the agent sees nothing else.') });

/** The tool through which a supervisor hands a task to the sub-agent `name`. */
export function subAgentSpec(name: string, description: string): ChatCompletionFunctionTool {
  return toolSpec({ name: `ask_${name}`, description: `Hand a task to the agent "${name}": ${description}`, input: askInput });
}

export const parseAskArgs = (args: unknown) => askInput.safeParse(args);
