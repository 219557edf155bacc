-- The SSE front-ends (docs/front-ends.md) name threads with the client library's own strings (the
-- AI SDK's chat id, AG-UI's threadId): per user and protocol, each names one agentwire thread,
-- created on first use.
CREATE TABLE external_threads (
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  protocol text NOT NULL,
  external_id text NOT NULL,
  thread_id uuid NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, protocol, external_id)
);
