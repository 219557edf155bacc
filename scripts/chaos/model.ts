// The sweep's model, on the local provider server (tests/helpers/llm-provider.ts): its reply
// follows from the conversation alone, so an attempt that takes a run over gets the reply the
// dead one would have got.
//   "llm: …" → calls chaos_effect with key <input>#1, then #2, then answers;
//   "sub: …" → calls ask_chaos-sub, then answers.
// A call whose result came back as an error (interrupted by a death) is made again, as a model
// would. An answer cut off (the CONTINUE message) is continued from where it stopped.
import { answer, chunk, FakeProvider, type Chunk, type ProviderRequest, type Scripted } from '../../tests/helpers/llm-provider.js';

export const ANSWER = 'The side effects are done and recorded.';
const WORDS = ANSWER.split(/(?= )/);

type Message = ProviderRequest['body']['messages'][number];

function reply(messages: Message[]): Scripted {
  const firstUser = messages.find((m) => m.role === 'user');
  const input = firstUser?.content ?? '';
  const last = messages.at(-1);
  const usage: [number, number] = [1, 1];
  if (last?.role === 'user' && last !== firstUser) {
    // Continue a cut-off answer: the partial answer is the assistant message before.
    const partial = messages.at(-2)?.content ?? '';
    const rest = ANSWER.startsWith(partial) ? ANSWER.slice(partial.length) : ANSWER;
    return { chunks: answer(rest.split(/(?= )/).filter(Boolean), usage) };
  }
  const done = messages.filter((m) => m.role === 'tool' && !(m.content ?? '').includes('"error"')).length;
  const think = chunk.reasoning('thinking it over');
  const call = (name: string, args: unknown): Chunk[] => {
    const json = JSON.stringify(args);
    return [chunk.role(), think, ...chunk.toolCall(0, `call_${done}_${messages.length}`, name, [json]), chunk.finish('tool_calls'), chunk.usage(...usage)];
  };
  if (input.includes(' sub:') && done < 1) return { chunks: call('ask_chaos-sub', { task: input }) };
  if (input.includes(' llm:') && done < 2) return { chunks: call('chaos_effect', { key: `${input}#${done + 1}` }) };
  return { chunks: [chunk.role(), think, ...WORDS.map(chunk.text), chunk.finish('stop'), chunk.usage(...usage)] };
}

export async function startModel(): Promise<{ provider: FakeProvider; calls(input: string): number }> {
  const provider = await new FakeProvider().start();
  provider.respond = (body) => reply(body.messages);
  return {
    provider,
    calls: (input) => provider.requests.filter((r) => r.body.messages.find((m) => m.role === 'user')?.content === input).length,
  };
}
