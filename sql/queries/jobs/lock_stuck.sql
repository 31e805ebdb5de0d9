-- Up to $3 running jobs whose client is unknown, stopped or has not heartbeated for $1 ms,
-- or that ran $2 ms past their timeout, locked, with why.
SELECT CASE WHEN c.id IS NULL THEN 'its client ' || coalesce(j.attempted_by, '?') || ' is unknown'
            WHEN c.stopped_at IS NOT NULL THEN 'its client ' || c.id || ' stopped'
            WHEN c.heartbeat_at < coalesce($4::timestamptz, now()) - $1 * interval '1 millisecond'
              THEN 'its client ' || c.id || ' stopped heartbeating'
            ELSE 'it ran past its timeout on ' || coalesce(j.attempted_by, '?') END,
       j.id, j.kind, j.queue, j.state::text, j.priority, j.args, j.metadata, j.tags,
       j.attempt, j.max_attempts, j.attempted_at, j.attempted_by, j.created_at,
       j.scheduled_at, j.finalized_at, j.errors
FROM /* schema */delta_job j
LEFT JOIN /* schema */delta_client c ON c.id = j.attempted_by
WHERE j.state = 'running'
  AND (c.id IS NULL OR c.stopped_at IS NOT NULL
       OR c.heartbeat_at < coalesce($4::timestamptz, now()) - $1 * interval '1 millisecond'
       OR j.timeout_at < coalesce($4::timestamptz, now()) - $2 * interval '1 millisecond')
ORDER BY j.id
LIMIT $3
FOR UPDATE OF j SKIP LOCKED
