-- Makes job $1 available now, unless it is running, with one more attempt if it has
-- used them all.
WITH r AS (
  UPDATE /* schema */delta_job j SET
    state = 'available', scheduled_at = coalesce($2::timestamptz, now()), finalized_at = NULL,
    max_attempts = CASE WHEN j.attempt >= j.max_attempts THEN j.attempt + 1
                        ELSE j.max_attempts END,
    metadata = j.metadata - 'cancel_requested_at'
  WHERE j.id = $1 AND j.state <> 'running'
  RETURNING j.id, j.kind, j.queue, j.state::text, j.priority, j.args, j.metadata, j.tags,
            j.attempt, j.max_attempts, j.attempted_at, j.attempted_by, j.created_at,
            j.scheduled_at, j.finalized_at, j.errors
)
SELECT r.*, (SELECT count(pg_notify($3, r.queue)) FROM r) FROM r
