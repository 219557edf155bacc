-- A worker holds a run while lease_expires_at is in the future and renews it; a run whose lease
-- lapsed (its worker died) is taken over by another worker, which bumps attempt.
ALTER TABLE runs ADD COLUMN lease_owner text;
ALTER TABLE runs ADD COLUMN lease_expires_at timestamptz;
CREATE INDEX runs_lease_expiry ON runs (lease_expires_at) WHERE status = 'running';
