-- Makes up to $1 scheduled and retryable jobs whose time has come available, notifying
-- each of their queues once on $3.
WITH due AS (
  SELECT id FROM /* schema */delta_job
  WHERE state IN ('scheduled', 'retryable') AND scheduled_at <= coalesce($2::timestamptz, now())
  ORDER BY scheduled_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED
), moved AS (
  UPDATE /* schema */delta_job j SET state = 'available' FROM due WHERE j.id = due.id
  RETURNING j.queue
)
SELECT count(*), (SELECT count(pg_notify($3, q.queue)) FROM (SELECT DISTINCT queue FROM moved) q)
FROM moved
