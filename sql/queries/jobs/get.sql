SELECT id, kind, queue, state::text, priority, args, metadata, tags, attempt, max_attempts,
       attempted_at, attempted_by, created_at, scheduled_at, finalized_at, errors
FROM /* schema */delta_job
WHERE id = $1
