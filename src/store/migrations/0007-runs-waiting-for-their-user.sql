-- status 'waiting': the run asked its user (input_requested) and is parked: no lease, no job, no
-- worker. waiting_for is that open question (the event's fields and its seq), for session_ready;
-- input_deadline, when INPUT_TIMEOUT_MS is set, is when any worker's sweep ends it (input_timeout).
ALTER TABLE runs ADD COLUMN waiting_for jsonb;
ALTER TABLE runs ADD COLUMN input_deadline timestamptz;
CREATE INDEX runs_input_deadline ON runs (input_deadline) WHERE status = 'waiting';
DROP INDEX runs_user_active;
CREATE INDEX runs_user_active ON runs (user_id) WHERE status IN ('pending', 'queued', 'running', 'waiting');
