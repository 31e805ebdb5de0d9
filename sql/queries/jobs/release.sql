-- Gives running jobs $1 of client $2 back unrun: available again with their attempt
-- returned, or cancelled when that was requested; notifies each of their queues on $4.
WITH r AS (
  UPDATE /* schema */delta_job
  SET state = CASE WHEN metadata ? 'cancel_requested_at' THEN 'cancelled'
                   ELSE 'available' END::/* schema */job_state,
      finalized_at = CASE WHEN metadata ? 'cancel_requested_at'
                            THEN coalesce($3::timestamptz, now()) END,
      attempt = CASE WHEN metadata ? 'cancel_requested_at' THEN attempt
                     ELSE greatest(attempt - 1, 0) END,
      scheduled_at = coalesce($3::timestamptz, now()), timeout_at = NULL
  WHERE id = ANY($1::bigint[]) AND state = 'running' AND attempted_by = $2
  RETURNING queue
)
SELECT count(*), (SELECT count(pg_notify($4, q.queue)) FROM (SELECT DISTINCT queue FROM r) q)
FROM r
