// Client → server frames (PROTOCOL section 3). Unknown fields are rejected (`strict`).
import { z } from 'zod';
import { storable, unstorableJsonReason } from './text.js';

/** Ids are opaque strings; a malformed one simply names nothing (→ `not_found`). */
export const id = z.string().min(1).max(128);
export const MAX_INPUT_CHARS = 32_000;
export const MAX_RESUME_RUNS = 100;

export const agentRequestFrame = z.strictObject({
  type: z.literal('agent_request'),
  // Both are stored: text the database cannot hold is refused here, saying why (protocol/text.ts).
  requestId: storable(z.string().min(1).max(128)),
  input: z.strictObject({ text: storable(z.string().trim().min(1).max(MAX_INPUT_CHARS)) }),
  threadId: id.optional(),
  agent: z.string().min(1).max(64).optional(),
  onBusy: z.enum(['reject', 'enqueue', 'interrupt']).optional(),
});

export const resumeFrame = z.strictObject({
  type: z.literal('resume'),
  runs: z
    .array(z.strictObject({ runId: id, afterSeq: z.number().int().min(0).max(2 ** 31 - 1) }))
    .min(1)
    .max(MAX_RESUME_RUNS),
});

export const ackFrame = z.strictObject({
  type: z.literal('ack'),
  runId: id,
  seq: z.number().int().min(0).max(2 ** 31 - 1),
});

export const cancelRunFrame = z.strictObject({
  type: z.literal('cancel_run'),
  runId: id,
});

/** The user's answer to a waiting run's `input_requested`; the value is checked against the request where it is stored. */
export const provideInputFrame = z.strictObject({
  type: z.literal('provide_input'),
  runId: id,
  interruptId: id,
  // Stored as it is (jsonb): refused here when the database cannot hold it, saying why.
  value: z.json().superRefine((v, ctx) => {
    const reason = unstorableJsonReason(v);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  }),
});

/** A rating of a finished run of the user's (the same as `POST /v1/runs/:runId/feedback`). */
export const feedbackFrame = z.strictObject({
  type: z.literal('feedback'),
  runId: id,
  rating: z.enum(['up', 'down']),
  comment: storable(z.string().trim().max(2_000)).optional(),
});

export const pingFrame = z.strictObject({
  type: z.literal('ping'),
  id: z.union([z.string().max(128), z.number()]).optional(),
});

export const clientFrame = z.discriminatedUnion('type', [
  agentRequestFrame,
  resumeFrame,
  ackFrame,
  cancelRunFrame,
  provideInputFrame,
  feedbackFrame,
  pingFrame,
]);

export type ClientFrame = z.infer<typeof clientFrame>;
export type AgentRequestFrame = z.infer<typeof agentRequestFrame>;
export type ResumeFrame = z.infer<typeof resumeFrame>;
export type AckFrame = z.infer<typeof ackFrame>;
export type CancelRunFrame = z.infer<typeof cancelRunFrame>;
export type PingFrame = z.infer<typeof pingFrame>;
export type ProvideInputFrame = z.infer<typeof provideInputFrame>;
export type FeedbackFrame = z.infer<typeof feedbackFrame>;
export type OnBusy = NonNullable<AgentRequestFrame['onBusy']>;

export { CLIENT_FRAME_TYPES } from './wire.js';
