-- The cluster-wide gauges (run by the leader every Config::cluster_metrics_interval):
-- resources per kind, namespace and state, and jobs per queue and state, each with how
-- many are due but not claimed and how long the oldest of those has waited (seconds;
-- NULL: none waits). Due and unclaimed: a resource in a runnable state (scheduled, failed,
-- expired) whose run_at has come, a job that is available and whose scheduled_at has come.
-- One pass over each table: the cost grows with the rows, which is why it runs on the
-- leader only and at most every few seconds.
WITH c AS (SELECT now() AS now)
SELECT 'resource'::text, r.kind, r.namespace, r.state::text, count(*),
       count(*) FILTER (WHERE r.state IN ('scheduled', 'failed', 'expired') AND r.run_at <= c.now),
       extract(epoch FROM c.now - min(r.run_at) FILTER (
         WHERE r.state IN ('scheduled', 'failed', 'expired') AND r.run_at <= c.now))::float8
FROM /* schema */delta_resource r CROSS JOIN c
GROUP BY r.kind, r.namespace, r.state, c.now
UNION ALL
SELECT 'job'::text, j.queue, '', j.state::text, count(*),
       count(*) FILTER (WHERE j.state = 'available' AND j.scheduled_at <= c.now),
       extract(epoch FROM c.now - min(j.scheduled_at) FILTER (
         WHERE j.state = 'available' AND j.scheduled_at <= c.now))::float8
FROM /* schema */delta_job j CROSS JOIN c
GROUP BY j.queue, j.state, c.now
