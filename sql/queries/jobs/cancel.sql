-- Cancels job $1 if it has not run yet; a running job gets cancel_requested_at (its
-- outcome then ends it cancelled) and a notification on $3.
WITH c AS (
  UPDATE /* schema */delta_job j SET
    state = CASE WHEN j.state IN ('available', 'scheduled', 'retryable') THEN 'cancelled'
                 ELSE j.state END,
    finalized_at = CASE WHEN j.state IN ('available', 'scheduled', 'retryable')
                          THEN coalesce($2::timestamptz, now())
                        ELSE j.finalized_at END,
    metadata = CASE WHEN j.state = 'running'
                    THEN j.metadata || jsonb_build_object('cancel_requested_at',
                                                          coalesce($2::timestamptz, now()))
                    ELSE j.metadata END
  WHERE j.id = $1
  RETURNING j.id, j.kind, j.queue, j.state::text, j.priority, j.args, j.metadata, j.tags,
            j.attempt, j.max_attempts, j.attempted_at, j.attempted_by, j.created_at,
            j.scheduled_at, j.finalized_at, j.errors
)
SELECT c.*, (SELECT count(pg_notify($3, 'cancel:' || c.id)) FROM c WHERE c.state = 'running')
FROM c
