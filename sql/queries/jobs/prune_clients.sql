-- Clients that have not heartbeated for $1 ms and run no job.
DELETE FROM /* schema */delta_client c
WHERE c.heartbeat_at < coalesce($2::timestamptz, now()) - $1 * interval '1 millisecond'
  AND NOT EXISTS (SELECT 1 FROM /* schema */delta_job j
                  WHERE j.state = 'running' AND j.attempted_by = c.id)
