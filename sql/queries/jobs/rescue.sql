-- The outcomes of stuck jobs (locked by lock_stuck.sql): id, attempt, state, delay (ms)
-- and error per row. The state an outcome really leads to is written out as in
-- complete.sql: a job whose cancellation was requested while it ran ends cancelled
-- unless it completed or was discarded anyway.
WITH r AS (
  UPDATE /* schema */delta_job j SET
    state = (CASE WHEN j.metadata ? 'cancel_requested_at'
                       AND u.state NOT IN ('completed', 'discarded') THEN 'cancelled'
                  ELSE u.state END)::/* schema */job_state,
    scheduled_at = CASE WHEN (CASE WHEN j.metadata ? 'cancel_requested_at'
                                        AND u.state NOT IN ('completed', 'discarded')
                                     THEN 'cancelled'
                                   ELSE u.state END) IN ('discarded', 'cancelled')
                          THEN j.scheduled_at
                        ELSE coalesce($6::timestamptz, now()) + u.delay_ms * interval '1 millisecond'
                   END,
    finalized_at = CASE WHEN (CASE WHEN j.metadata ? 'cancel_requested_at'
                                        AND u.state NOT IN ('completed', 'discarded')
                                     THEN 'cancelled'
                                   ELSE u.state END) IN ('discarded', 'cancelled')
                          THEN coalesce($6::timestamptz, now()) END,
    errors = (j.errors || u.error::jsonb)[greatest(cardinality(j.errors) - 18, 1):],
    timeout_at = NULL
  FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::bigint[], $5::text[])
         AS u(id, attempt, state, delay_ms, error)
  WHERE j.id = u.id AND j.attempt = u.attempt
    AND j.state::text = 'running'  -- not the partial index on running jobs: see complete.sql
  RETURNING j.id
)
SELECT count(*) FROM r
