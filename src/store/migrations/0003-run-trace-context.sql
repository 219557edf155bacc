-- The accepting request's W3C traceparent: every attempt of the run (a takeover too) continues
-- that trace. queued_at: when the run's job was sent, for the queue-wait metric and span.
ALTER TABLE runs ADD COLUMN trace_context text;
ALTER TABLE runs ADD COLUMN queued_at timestamptz;
