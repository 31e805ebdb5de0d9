-- Throughput per minute over the last $1 minutes (Admin::throughput), the current minute
-- last, from what the tables hold now (delta keeps no history of past syncs):
--   synced:         resources synced now whose last sync (synced_at) fell in the minute;
--   failed:         resources failed or degraded now whose last attempt (attempted_at)
--                   fell in the minute;
--   jobs_completed: jobs completed whose finalized_at fell in the minute;
--   jobs_failed:    jobs discarded whose finalized_at fell in the minute, and retryable
--                   jobs whose last attempt fell in it.
-- A resource synced three times in the hour counts once, at its last sync; one changed
-- since (scheduled again) does not count. Each count is a range scan of a partial index:
-- synced rows by (namespace, synced_at), one namespace at a time (found by a skip scan);
-- failed rows through the claim index (kind, priority, run_at, id), one range per class,
-- whose run_at (the next attempt) is never before attempted_at; degraded rows by (state, updated_at); jobs by (state,
-- finalized_at) and, for retryable ones, by scheduled_at (the next attempt).
WITH RECURSIVE bounds AS (
  SELECT date_trunc('minute', now()) - ($1::int - 1) * interval '1 minute' AS since
), synced_ns(namespace) AS (
  (SELECT r.namespace FROM /* schema */delta_resource r
   WHERE r.state = 'synced' ORDER BY r.namespace LIMIT 1)
  UNION ALL
  SELECT (SELECT r.namespace FROM /* schema */delta_resource r
          WHERE r.state = 'synced' AND r.namespace > synced_ns.namespace
          ORDER BY r.namespace LIMIT 1)
  FROM synced_ns WHERE synced_ns.namespace IS NOT NULL
), failed_kinds(kind) AS (
  (SELECT r.kind FROM /* schema */delta_resource r
   WHERE r.state IN ('scheduled', 'failed', 'expired') ORDER BY r.kind LIMIT 1)
  UNION ALL
  SELECT (SELECT r.kind FROM /* schema */delta_resource r
          WHERE r.state IN ('scheduled', 'failed', 'expired') AND r.kind > failed_kinds.kind
          ORDER BY r.kind LIMIT 1)
  FROM failed_kinds WHERE failed_kinds.kind IS NOT NULL
), events(series, at) AS (
  SELECT 'synced', r.synced_at
  FROM synced_ns n CROSS JOIN bounds b
  JOIN /* schema */delta_resource r
    ON r.namespace = n.namespace AND r.state = 'synced' AND r.synced_at >= b.since
  UNION ALL
  SELECT 'failed', r.attempted_at
  FROM failed_kinds k CROSS JOIN bounds b
  JOIN /* schema */delta_resource r
    ON r.kind = k.kind AND r.state IN ('scheduled', 'failed', 'expired')
       AND r.priority IN (0, 1) AND r.run_at >= b.since AND r.state = 'failed'
       AND r.attempted_at >= b.since
  UNION ALL
  SELECT 'failed', r.attempted_at
  FROM /* schema */delta_resource r CROSS JOIN bounds b
  WHERE r.state = 'degraded' AND r.updated_at >= b.since AND r.attempted_at >= b.since
  UNION ALL
  SELECT CASE WHEN j.state = 'completed' THEN 'jobs_completed' ELSE 'jobs_failed' END,
         j.finalized_at
  FROM /* schema */delta_job j CROSS JOIN bounds b
  WHERE j.state IN ('completed', 'discarded') AND j.finalized_at >= b.since
  UNION ALL
  SELECT 'jobs_failed', j.attempted_at
  FROM /* schema */delta_job j CROSS JOIN bounds b
  WHERE j.state = 'retryable' AND j.scheduled_at >= b.since AND j.attempted_at >= b.since
), counts AS (
  SELECT date_trunc('minute', e.at) AS minute,
         count(*) FILTER (WHERE e.series = 'synced') AS synced,
         count(*) FILTER (WHERE e.series = 'failed') AS failed,
         count(*) FILTER (WHERE e.series = 'jobs_completed') AS jobs_completed,
         count(*) FILTER (WHERE e.series = 'jobs_failed') AS jobs_failed
  FROM events e
  WHERE e.at <= now()
  GROUP BY 1
)
SELECT m.minute, coalesce(c.synced, 0), coalesce(c.failed, 0),
       coalesce(c.jobs_completed, 0), coalesce(c.jobs_failed, 0)
FROM bounds b
CROSS JOIN generate_series(b.since, date_trunc('minute', now()), interval '1 minute') m(minute)
LEFT JOIN counts c ON c.minute = m.minute
ORDER BY m.minute
