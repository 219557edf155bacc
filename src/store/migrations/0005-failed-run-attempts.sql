-- Attempts of the run that failed: threw outside the agent's own error handling (counted when the
-- worker lets the run go) or lost their lease (counted by the claim that takes the run over). A
-- lease released at shutdown names no owner and does not count. RUN_MAX_ATTEMPTS caps it.
ALTER TABLE runs ADD COLUMN failed_attempts integer NOT NULL DEFAULT 0;
