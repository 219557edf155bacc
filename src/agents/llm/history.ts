// Thread memory: the earlier messages of the thread go to the model, newest kept first, within a
// token budget. Tokens are estimated (about four characters each for English text and code); the
// budget is a cost and context-window guard, not an exact count, so an estimate is enough and
// needs no tokenizer per model.
import type { ChatMessage } from '../types.js';

export const estimateTokens = (text: string): number => Math.ceil(text.length / 4) + 4;

/**
 * The most recent messages whose estimated tokens fit `budget`, oldest first. A message that does
 * not fit ends the walk: skipping it and keeping older ones would show the model a conversation
 * with a hole in it.
 */
export function fitHistory(history: readonly ChatMessage[], budget: number): ChatMessage[] {
  const kept: ChatMessage[] = [];
  let used = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i]!;
    const cost = estimateTokens(m.content);
    if (used + cost > budget) break;
    used += cost;
    kept.push(m);
  }
  // A conversation shown to a model should not open with an answer to a question it cannot see.
  while (kept.length > 0 && kept[kept.length - 1]!.role === 'assistant') kept.pop();
  return kept.reverse();
}
