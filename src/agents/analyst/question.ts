// Reads what the user asks: which features or models they name and what they want (the breakdown,
// savings, or something the analyst cannot do). Plain keyword rules: predictable, and easy to explain.
import type { ChatMessage } from '../types.js';
import { listModels } from '../pricing/index.js';

export type Intent = 'breakdown' | 'save' | 'overview' | 'offtopic';

export interface Question {
  intent: Intent;
  features: string[];
  models: string[];
  /** Focus or intent taken from an earlier message ("and for support_chat?"). */
  followUp: boolean;
}

const SAVE = /cheap|save|saving|optimi[sz]|reduc|\bcut|\blower\b|switch|downgrad|alternativ|too (much|expensive)|afford|smaller model|right-?siz/;
const BREAKDOWN = /how much|where .*(money|spend|cost|go)|break ?down|spend|spent|cost|bill|invoice|split|which feature|biggest|\btop\b|most expensive/;
const ON_TOPIC = /cost|spend|pric|money|\bbill|budget|token|\bmodel|usage|expens|cheap|\bsav|dollar|\$|invoice|\bmonth|\bllms?\b|\bapi\b|feature|optimi|analy/;
const FOLLOW_UP = /^\s*(and|what about|how about|same for|also|now|ok(ay)?,? (and|what about))\b/;

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// A name counts only as a whole token: `gpt-4o` must not match inside `gpt-4o-mini`.
function mentions(text: string, name: string): boolean {
  return new RegExp(`(?<![a-z0-9.-])${escape(name)}(?![a-z0-9-]|\\.[a-z0-9])`).test(text);
}

function namesIn(text: string, features: readonly string[], usedModels: readonly string[]) {
  const t = text.toLowerCase();
  const f = features.filter((name) => {
    const n = name.toLowerCase();
    return [n, n.replace(/[_-]+/g, ' '), n.replace(/[_ ]+/g, '-')].some((v) => mentions(t, v));
  });
  const m = new Set<string>();
  for (const model of listModels()) if (mentions(t, model.id) || mentions(t, model.name.toLowerCase())) m.add(model.id);
  for (const model of usedModels) if (mentions(t, model.toLowerCase())) m.add(model);
  return { features: f, models: [...m].sort() };
}

function intentOf(text: string): Intent | undefined {
  const t = text.toLowerCase();
  if (SAVE.test(t)) return 'save';
  if (BREAKDOWN.test(t)) return 'breakdown';
  return undefined;
}

export function readQuestion(
  text: string,
  history: readonly ChatMessage[],
  features: readonly string[],
  usedModels: readonly string[],
): Question {
  const now = namesIn(text, features, usedModels);
  let intent = intentOf(text);
  const previous = [...history].reverse().find((m) => m.role === 'user');
  const followUp = FOLLOW_UP.test(text.toLowerCase()) || (!intent && now.features.length + now.models.length > 0);
  let fromHistory = false;
  if (previous && followUp) {
    const before = namesIn(previous.content, features, usedModels);
    if (now.features.length + now.models.length === 0 && before.features.length + before.models.length > 0) {
      now.features = before.features;
      now.models = before.models;
      fromHistory = true;
    }
    if (!intent) {
      intent = intentOf(previous.content);
      fromHistory ||= intent !== undefined;
    }
  }
  const focused = now.features.length + now.models.length > 0;
  if (!intent) intent = text.trim() === '' || focused || ON_TOPIC.test(text.toLowerCase()) ? 'overview' : 'offtopic';
  return { intent, features: now.features, models: now.models, followUp: fromHistory };
}
