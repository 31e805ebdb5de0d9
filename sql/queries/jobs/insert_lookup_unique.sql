-- The jobs that kept unique jobs of an insert out (by their hex-encoded unique keys, $1).
SELECT encode(unique_key, 'hex'), id, kind, queue, state::text, priority, args, metadata, tags,
       attempt, max_attempts, attempted_at, attempted_by, created_at, scheduled_at,
       finalized_at, errors
FROM /* schema */delta_job
WHERE unique_key = ANY(ARRAY(SELECT decode(k, 'hex') FROM unnest($1::text[]) k))
  AND unique_states IS NOT NULL AND /* schema */job_state_in_bitmask(unique_states, state)
