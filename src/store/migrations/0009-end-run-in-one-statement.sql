-- A run's terminal write in one statement (src/store/run-end.ts): it was a transaction of six round
-- trips (lock the thread, append the terminal event, insert the answer, look for the thread's next
-- run, promote it, commit) that held a pooled connection for all six.
--
-- A function, not a CTE: each statement of a plpgsql function takes a new snapshot (READ
-- COMMITTED), so what follows the thread's lock sees what the lock's previous holder committed (a
-- run accepted behind this one while we waited for the lock). A CTE reads one snapshot taken before
-- its lock is granted, and would miss that run: it would wait for its turn forever.
--
-- Outcomes:
--   'stale'  the fence refused the event (another attempt holds the run): nothing written;
--   'queue'  the thread has a run waiting its turn, no slot was lent (p_owner NULL) and the caller
--            cannot queue in this statement (p_may_queue false): nothing written, the caller does
--            it again inside a transaction that also sends the run's queue job;
--   'ended'  the event stored (and the run's terminal status with it), the answer stored; the
--            other columns are the run promoted in the same statement, if any: running, claimed by
--            p_owner (attempt bumped, its lease taken) or, without p_owner, queued (the caller sends
--            its job in the same transaction).
CREATE FUNCTION aw_end_run(
  p_run uuid, p_thread uuid, p_seq integer, p_attempt integer, p_type text, p_body jsonb, p_status text,
  p_message uuid, p_answer text, p_owner text, p_lease_ms integer, p_may_queue boolean
) RETURNS TABLE (
  outcome text, id uuid, thread_id uuid, user_id uuid, agent text, input jsonb, status text, last_seq integer,
  attempt integer, cancel_reason text, created_at timestamptz, finished_at timestamptz, trace_context text,
  failed_attempts integer, queue_wait_ms float8, only_run boolean
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_next uuid;
BEGIN
  -- The thread first, then its runs: the lock order of every transaction that changes both.
  PERFORM 1 FROM threads t WHERE t.id = p_thread FOR UPDATE;
  -- The thread's oldest waiting run, if no other run holds the thread (this one is about to end).
  SELECT r.id INTO v_next FROM runs r
   WHERE r.thread_id = p_thread AND r.status = 'pending'
     AND NOT EXISTS (SELECT 1 FROM runs b WHERE b.thread_id = p_thread AND b.id <> p_run AND b.status IN ('queued', 'running', 'waiting'))
   ORDER BY r.created_at, r.id LIMIT 1;
  IF v_next IS NOT NULL AND p_owner IS NULL AND NOT p_may_queue THEN
    RETURN QUERY SELECT 'queue'::text, NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::jsonb, NULL::text, NULL::integer,
      NULL::integer, NULL::text, NULL::timestamptz, NULL::timestamptz, NULL::text, NULL::integer, NULL::float8, NULL::boolean;
    RETURN;
  END IF;
  -- The fenced append (as appendEvent): the current attempt, the next seq; the terminal status with it.
  UPDATE runs r SET last_seq = p_seq, updated_at = now(), status = p_status, finished_at = now()
   WHERE r.id = p_run AND r.attempt = p_attempt AND r.last_seq = p_seq - 1;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'stale'::text, NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::jsonb, NULL::text, NULL::integer,
      NULL::integer, NULL::text, NULL::timestamptz, NULL::timestamptz, NULL::text, NULL::integer, NULL::float8, NULL::boolean;
    RETURN;
  END IF;
  INSERT INTO run_events (run_id, seq, type, body) VALUES (p_run, p_seq, p_type, p_body);
  IF p_answer IS NOT NULL THEN
    INSERT INTO messages (id, thread_id, run_id, role, content) VALUES (p_message, p_thread, p_run, 'assistant', p_answer);
  END IF;
  -- The promotion (as promotePending): claimed by p_owner when a slot was lent, else queued.
  RETURN QUERY
    UPDATE runs r SET status = CASE WHEN p_owner IS NULL THEN 'queued' ELSE 'running' END, queued_at = now(), updated_at = now(),
      attempt = CASE WHEN p_owner IS NULL THEN r.attempt ELSE r.attempt + 1 END, lease_owner = p_owner,
      lease_expires_at = CASE WHEN p_owner IS NULL THEN NULL ELSE now() + p_lease_ms * interval '1 millisecond' END
     WHERE r.id = v_next AND r.status = 'pending'
     RETURNING 'ended'::text, r.id, r.thread_id, r.user_id, r.agent, r.input, r.status, r.last_seq, r.attempt, r.cancel_reason,
       r.created_at, r.finished_at, r.trace_context, r.failed_attempts, 0::float8, false;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'ended'::text, NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::jsonb, NULL::text, NULL::integer,
      NULL::integer, NULL::text, NULL::timestamptz, NULL::timestamptz, NULL::text, NULL::integer, NULL::float8, NULL::boolean;
  END IF;
END
$$;
