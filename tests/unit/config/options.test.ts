// createServer's options: one schema and one set of defaults for the options and the environment,
// and bad input refused at start with an error that names the culprit (nothing is opened first).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ENV_OPTIONS, parseSettings, settingsFromEnv, toConfig, loadConfig } from '../../../src/config/index.js';
import { settingsShape } from '../../../src/config/options.js';
import { createServer, defineAgent, defineTool, OptionsError, optionsFromEnv, type ServerOptions } from '../../../src/index.js';

const echo = defineAgent({ name: 'echo', description: 'says it back', run: async (ctx) => ({ text: ctx.input.text }) });
const lookup = defineTool({ name: 'lookup', description: 'finds', input: z.object({ q: z.string() }), execute: async ({ q }) => q });

/** What createServer refuses, as `path: message` lines (['started'] if it started: then it is closed at once). */
async function refusal(options: Record<string, unknown>): Promise<string[]> {
  try {
    const server = await createServer({ port: 0, dataDir: 'memory://', logLevel: 'silent', ...options } as ServerOptions);
    await server.close();
    return ['started'];
  } catch (err) {
    if (err instanceof OptionsError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
}

describe('one schema, one set of defaults', () => {
  it('the options and the environment have the same defaults', () => {
    expect(settingsFromEnv({})).toEqual(parseSettings({}));
    expect(loadConfig({})).toEqual(toConfig(parseSettings({})));
  });

  it('every environment variable names an option of the schema, and the README lists it', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
    const options = settingsShape as Record<string, z.ZodType>;
    const hasPath = (path: string) => {
      let schema: z.ZodType | undefined = options[path.split('.')[0]!];
      for (const key of path.split('.').slice(1)) {
        // Unwrap defaults, optionals and prefaults down to the object.
        let s = schema as unknown as { unwrap?: () => z.ZodType; shape?: Record<string, z.ZodType>; def?: { innerType?: z.ZodType } };
        while (s && !s.shape) s = (s.def?.innerType ?? s.unwrap?.()) as typeof s;
        schema = s?.shape?.[key];
      }
      return schema !== undefined;
    };
    for (const [variable, path] of ENV_OPTIONS) {
      expect(hasPath(path), `${variable} → ${path}`).toBe(true);
      expect(readme, variable).toContain(`\`${variable}\``);
    }
  });

  it('optionsFromEnv gives the settings the environment sets, checked, named by variable', () => {
    expect(optionsFromEnv({ PORT: '9001', LIMITS_IGNORED: 'x', ADMIN_USERS: 'ada, bob', DEBUG_ENABLED: 'true' })).toEqual({ port: 9001, debug: { adminUsers: ['ada', 'bob'], enabled: true } });
    expect(() => optionsFromEnv({ MAX_FRAME_BYTES: '12' })).toThrow(/MAX_FRAME_BYTES: Too small/);
  });
});

describe('createServer refuses bad input at start, naming the culprit', () => {
  it('an unknown option (a typo is not a default)', async () => {
    expect(await refusal({ agents: [echo], prot: 8080, limits: { maxFrameByte: 1 } })).toEqual(['limits.maxFrameByte: unknown option', 'prot: unknown option']);
  });

  it('a bad value, by its option, with the agents\' and tools\' problems in the same error', async () => {
    expect(await refusal({ agents: [echo, echo], runs: { maxAttempts: 0 }, allowedOrigins: ['localhost:8080'] })).toEqual([
      'allowedOrigins.0: "localhost:8080" is not an origin as a browser sends it: write "http://localhost:8080" (scheme://host[:port], e.g. http://localhost:8080; * allows any)',
      'runs.maxAttempts: Too small: expected number to be >=1',
      'agents[1].name: two agents are named "echo" (agents[0] and agents[1])',
    ]);
  });

  it('two agents or two tools with one name', async () => {
    expect(await refusal({ agents: [echo, { ...echo }], tools: [lookup, lookup] })).toEqual([
      'tools[1].name: two tools are named "lookup" (tools[0] and tools[1])',
      'agents[1].name: two agents are named "echo" (agents[0] and agents[1])',
    ]);
  });

  it('a defaultAgent nobody registered, and an agent naming a tool nobody registered', async () => {
    expect(await refusal({ agents: [echo, defineAgent({ ...echo, name: 'asker', tools: ['lookup', 'search'] })], tools: [lookup], defaultAgent: 'helper' })).toEqual([
      'agents[1] (asker).tools: no tool named "search" is registered (add it to tools)',
      'defaultAgent: no agent named "helper" is registered (registered: echo, asker)',
    ]);
  });

  it('a tool whose input is not a zod schema (a JSON Schema, a zod 3 look-alike), and other malformed tools', async () => {
    const jsonSchemaTool = { name: 'json', description: 'd', input: { type: 'object', properties: {} }, execute: async () => 1 };
    const zod3Like = { name: 'zod3', description: 'd', input: { _def: {}, safeParse: () => ({ success: true }) }, execute: async () => 1 };
    expect(await refusal({ agents: [echo], tools: [jsonSchemaTool, zod3Like, { name: 'ask_x', description: 1, input: z.string() }, 'lookup'] })).toEqual([
      'tools[0] (json).input: must be a zod (v4) schema, e.g. z.object({ city: z.string() })',
      'tools[1] (zod3).input: must be a zod (v4) schema, e.g. z.object({ city: z.string() })',
      'tools[2] (ask_x).name: names starting with ask_ are the calls to sub-agents',
      'tools[2] (ask_x).description: must be a string (models read it to choose the tool)',
      'tools[2] (ask_x).execute: must be a function (input, ctx) => Promise<result>',
      'tools[3]: must be a tool (defineTool({ name, description, input, execute }))',
    ]);
  });

  it('no agent at all, and an agent that is not one', async () => {
    expect(await refusal({})).toEqual(['agents: at least one agent is needed (defineAgent({ name, description, run }))']);
    expect(await refusal({ agents: [{ name: 'has space', description: 'd', run: 'no' }] })).toEqual([
      'agents[0].name: must be 1-64 letters, digits, _ . - (starting with a letter or digit)',
      'agents[0].run: must be a function (ctx) => Promise<{ text }>',
    ]);
  });

  it('an LLM agent named like a registered agent', async () => {
    expect(await refusal({ agents: [echo], llm: { baseUrl: 'http://127.0.0.1:1/v1', model: 'm', name: 'echo' } })).toEqual([
      'llm.name: an agent named "echo" is registered already (agents[0]): the LLM agent needs a name of its own',
    ]);
  });
});
