// @ts-check
// The example's server. The model: any server speaking OpenAI's Chat Completions format, e.g.
//   MODEL_BASE_URL=http://127.0.0.1:11434/v1 MODEL_NAME=llama3.2 npm start        (Ollama)
//   MODEL_BASE_URL=https://api.openai.com/v1 MODEL_NAME=gpt-4o-mini MODEL_API_KEY=sk-… npm start
// agentwire's own settings come from the environment as for `npm start` (PORT, AGENTWIRE_DATA_DIR …).
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createServer, optionsFromEnv } from 'agentwire';
import { lookupOrder, supportAgent } from './agent.js';

const { MODEL_BASE_URL, MODEL_NAME, MODEL_API_KEY } = process.env;
if (!MODEL_BASE_URL || !MODEL_NAME) {
  console.error('set MODEL_BASE_URL and MODEL_NAME (and MODEL_API_KEY if the server needs one)');
  process.exit(2);
}
const provider = createOpenAICompatible({ name: 'model', baseURL: MODEL_BASE_URL, ...(MODEL_API_KEY ? { apiKey: MODEL_API_KEY } : {}) });
const server = await createServer({
  ...optionsFromEnv(),
  agents: [supportAgent(provider.chatModel(MODEL_NAME))],
  tools: [lookupOrder],
});
console.log(`AI SDK example listening on ${server.url}`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
process.once('SIGINT', () => void server.close().then(() => process.exit(0)));
