// Numbered schema migrations, applied at start in one transaction under an advisory lock so that
// several processes starting at once apply each migration exactly once.
// Kept hand-written: it must run on PGlite and pg alike through our `Db` in one transaction with
// pg-boss's own schema; node-pg-migrate and friends want a pg client, files on disk and their own table.
import type { Db } from './db.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'core',
    sql: `
CREATE TABLE users (
  id uuid PRIMARY KEY,
  username text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE threads (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX threads_user_created ON threads (user_id, created_at DESC, id DESC);

-- status: pending (waits for an earlier run of its thread), queued (job sent), running,
-- completed, failed, cancelled. attempt fences a stale worker's writes.
CREATE TABLE runs (
  id uuid PRIMARY KEY,
  thread_id uuid NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  agent text NOT NULL,
  input jsonb NOT NULL,
  status text NOT NULL,
  last_seq integer NOT NULL DEFAULT 0,
  attempt integer NOT NULL DEFAULT 0,
  cancel_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX runs_thread_created ON runs (thread_id, created_at, id);
CREATE INDEX runs_user_active ON runs (user_id) WHERE status IN ('pending', 'queued', 'running');

CREATE TABLE run_events (
  run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq integer NOT NULL,
  type text NOT NULL,
  body jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE run_acks (
  run_id uuid PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  acked_seq integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE messages (
  id uuid PRIMARY KEY,
  thread_id uuid NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
  run_id uuid REFERENCES runs(id) ON DELETE SET NULL,
  role text NOT NULL CHECK (role IN ('user', 'assistant')),
  content text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_thread_created ON messages (thread_id, created_at, id);

CREATE TABLE request_keys (
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  request_id text NOT NULL,
  run_id uuid NOT NULL,
  thread_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, request_id)
);

CREATE TABLE ws_tickets (
  ticket_hash text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL
);

CREATE TABLE usage_records (
  id bigserial PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  day date NOT NULL,
  feature text NOT NULL,
  model text NOT NULL,
  requests integer NOT NULL CHECK (requests >= 0),
  input_tokens bigint NOT NULL CHECK (input_tokens >= 0),
  output_tokens bigint NOT NULL CHECK (output_tokens >= 0),
  source text NOT NULL CHECK (source IN ('sample', 'upload')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_records_user_day ON usage_records (user_id, day);
`,
  },
  {
    version: 2,
    name: 'run leases',
    sql: `
-- A worker holds a run while lease_expires_at is in the future and renews it; a run whose lease
-- lapsed (its worker died) is taken over by another worker, which bumps attempt.
ALTER TABLE runs ADD COLUMN lease_owner text;
ALTER TABLE runs ADD COLUMN lease_expires_at timestamptz;
CREATE INDEX runs_lease_expiry ON runs (lease_expires_at) WHERE status = 'running';
`,
  },
  {
    version: 3,
    name: 'run trace context',
    sql: `
-- The accepting request's W3C traceparent: every attempt of the run (a takeover too) continues
-- that trace. queued_at: when the run's job was sent, for the queue-wait metric and span.
ALTER TABLE runs ADD COLUMN trace_context text;
ALTER TABLE runs ADD COLUMN queued_at timestamptz;
`,
  },
  {
    version: 4,
    name: 'token revocation and external identities',
    sql: `
-- Logout and password change bump token_version: the server's own tokens carry the version they
-- were issued under and are refused once it moved. Tokens of an external identity provider carry
-- no version: those issued (iat) before tokens_valid_after are refused.
ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;
-- A user of an external identity provider, known by (issuer, subject), gets a local user row on
-- first sight; its password_hash is '!' which no password verifies.
CREATE TABLE external_identities (
  issuer text NOT NULL,
  subject text NOT NULL,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (issuer, subject)
);
`,
  },
  {
    version: 5,
    name: 'failed run attempts',
    sql: `
-- Attempts of the run that failed: threw outside the agent's own error handling (counted when the
-- worker lets the run go) or lost their lease (counted by the claim that takes the run over). A
-- lease released at shutdown names no owner and does not count. RUN_MAX_ATTEMPTS caps it.
ALTER TABLE runs ADD COLUMN failed_attempts integer NOT NULL DEFAULT 0;
`,
  },
  {
    version: 6,
    name: 'external thread ids',
    sql: `
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
`,
  },
  {
    version: 7,
    name: 'runs waiting for their user',
    sql: `
-- status 'waiting': the run asked its user (input_requested) and is parked: no lease, no job, no
-- worker. waiting_for is that open question (the event's fields and its seq), for session_ready;
-- input_deadline, when INPUT_TIMEOUT_MS is set, is when any worker's sweep ends it (input_timeout).
ALTER TABLE runs ADD COLUMN waiting_for jsonb;
ALTER TABLE runs ADD COLUMN input_deadline timestamptz;
CREATE INDEX runs_input_deadline ON runs (input_deadline) WHERE status = 'waiting';
DROP INDEX runs_user_active;
CREATE INDEX runs_user_active ON runs (user_id) WHERE status IN ('pending', 'queued', 'running', 'waiting');
`,
  },
  {
    version: 8,
    name: 'run feedback',
    sql: `
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
`,
  },
];

const LOCK_KEY = 74_205_118; // arbitrary, constant: "agentwire migrations"

export async function migrate(db: Db, list: readonly Migration[] = migrations): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of [...list].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}
