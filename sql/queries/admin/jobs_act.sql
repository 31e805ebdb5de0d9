-- One batch of a bulk action on jobs (Admin::retry_jobs, cancel_jobs, delete_jobs): the
-- next $6 jobs the filter selects after id $5 (the caller narrowed its states to those
-- the action applies to), locked in id order. retry makes them available now (one more
-- attempt if they used them all), as jobs/retry.sql; cancel ends waiting jobs cancelled and
-- asks running ones to stop (cancel_requested_at and a notification on $7), as
-- jobs/cancel.sql; delete removes them. Returns how many changed, the last id seen and
-- the queues changed (whose workers are woken).
WITH batch AS (
  SELECT j.id
  FROM /* schema */delta_job j
  WHERE /* include admin/_job_filter */
    AND j.id > $5::bigint
  ORDER BY j.id
  LIMIT $6
  FOR UPDATE
), changed AS (
/* if retry */
  UPDATE /* schema */delta_job j SET
    state = 'available', scheduled_at = now(), finalized_at = NULL,
    max_attempts = CASE WHEN j.attempt >= j.max_attempts THEN j.attempt + 1
                        ELSE j.max_attempts END,
    metadata = j.metadata - 'cancel_requested_at'
  FROM batch
  WHERE j.id = batch.id
  RETURNING j.id, j.queue, j.state
/* end */
/* if cancel */
  UPDATE /* schema */delta_job j SET
    state = CASE WHEN j.state = 'running' THEN j.state ELSE 'cancelled' END,
    finalized_at = CASE WHEN j.state = 'running' THEN j.finalized_at ELSE now() END,
    metadata = CASE WHEN j.state = 'running'
                    THEN j.metadata || jsonb_build_object('cancel_requested_at', now())
                    ELSE j.metadata END
  FROM batch
  WHERE j.id = batch.id
  RETURNING j.id, j.queue, j.state
/* end */
/* if delete */
  DELETE FROM /* schema */delta_job j
  USING batch
  WHERE j.id = batch.id
  RETURNING j.id, j.queue, j.state
/* end */
), cancels AS (
  SELECT count(pg_notify($7, 'cancel:' || id)) AS n FROM changed WHERE state = 'running'
)
SELECT (SELECT count(*) FROM changed),
       (SELECT max(id) FROM batch),
       (SELECT coalesce(array_agg(DISTINCT queue), '{}') FROM changed),
       (SELECT n FROM cancels)
