-- The outcomes of a batch of running jobs: id, attempt, attempted_by (the fence), the
-- outcome's state, delay (ms), whether to give the attempt back, and the error, per row.
--
-- The state an outcome really leads to: a job whose cancellation was requested while
-- it ran ends cancelled unless it completed or was discarded anyway. That is the
-- expression (CASE WHEN j.metadata ? 'cancel_requested_at' AND u.state NOT IN ...)
-- written out wherever the state is read below.
UPDATE /* schema */delta_job j SET
  state = (CASE WHEN j.metadata ? 'cancel_requested_at'
                     AND u.state NOT IN ('completed', 'discarded') THEN 'cancelled'
                ELSE u.state END)::/* schema */job_state,
  attempt = CASE WHEN u.give_back
                      AND (CASE WHEN j.metadata ? 'cancel_requested_at'
                                     AND u.state NOT IN ('completed', 'discarded') THEN 'cancelled'
                                ELSE u.state END) <> 'cancelled'
                   THEN greatest(j.attempt - 1, 0)
                 ELSE j.attempt END,
  scheduled_at = CASE WHEN u.delay_ms IS NULL
                           OR (CASE WHEN j.metadata ? 'cancel_requested_at'
                                         AND u.state NOT IN ('completed', 'discarded')
                                      THEN 'cancelled'
                                    ELSE u.state END) = 'cancelled'
                        THEN j.scheduled_at
                      ELSE coalesce($8::timestamptz, now()) + u.delay_ms * interval '1 millisecond'
                 END,
  finalized_at = CASE WHEN (CASE WHEN j.metadata ? 'cancel_requested_at'
                                      AND u.state NOT IN ('completed', 'discarded')
                                   THEN 'cancelled'
                                 ELSE u.state END) IN ('completed', 'cancelled', 'discarded')
                        THEN coalesce($8::timestamptz, now()) END,
  errors = CASE WHEN u.error IS NULL THEN j.errors
                ELSE (j.errors || u.error::jsonb)[greatest(cardinality(j.errors) - 18, 1):] END,
  timeout_at = NULL
FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::text[], $5::bigint[], $6::boolean[],
            $7::text[], array_fill('running'::text, ARRAY[cardinality($1::bigint[])]))
       AS u(id, attempt, attempted_by, state, delay_ms, give_back, error, running)
WHERE j.id = u.id AND j.attempt = u.attempt
  AND j.attempted_by = u.attempted_by
  -- A batch column, not a constant: 'running' repeated once per row of the batch
  -- (array_fill over the length of $1) is a column for the batch's unnest(). Fences of
  -- batch updates (lease owner, expected state) compare with such a column instead of a
  -- constant, so that no condition on the table alone is left for the planner to
  -- estimate from statistics. Analyzed while nothing was pending or running, those say no
  -- row matches; the planner then scanned the table once and re-read the whole batch for
  -- every matching row (500 outcomes: 90-350 ms instead of a few). Compared with a batch
  -- column, the batch drives primary-key lookups. (Text, not the state enum, so that
  -- partial indexes on the state cannot match either.)
  AND j.state::text = u.running
RETURNING j.id, j.state::text
