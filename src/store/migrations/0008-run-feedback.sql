-- A user's rating of a finished run of theirs: one per run, changeable (updated_at moves).
-- agent is copied from the run, so the counts per agent need no join.
CREATE TABLE run_feedback (
  run_id uuid PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  agent text NOT NULL,
  rating text NOT NULL CHECK (rating IN ('up', 'down')),
  comment text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_feedback_user_updated ON run_feedback (user_id, updated_at DESC, run_id);
