-- Every queue with jobs or a row in delta_queue (Admin::list_queues): whether it is
-- paused, its jobs per state, how long its oldest available job has waited, and its flow
-- limits (NULL for a queue without a row).
WITH counts AS (
  SELECT queue, state, count(*) AS n FROM /* schema */delta_job GROUP BY queue, state
), names AS (
  SELECT name FROM /* schema */delta_queue UNION SELECT queue FROM counts
)
SELECT n.name, q.paused_at,
       coalesce((SELECT array_agg(c.state::text ORDER BY c.state) FROM counts c
                 WHERE c.queue = n.name), '{}'),
       coalesce((SELECT array_agg(c.n ORDER BY c.state) FROM counts c
                 WHERE c.queue = n.name), '{}'),
       (SELECT extract(epoch FROM now() - min(j.scheduled_at)) * 1000
        FROM /* schema */delta_job j
        WHERE j.queue = n.name AND j.state = 'available' AND j.scheduled_at <= now())::bigint,
       q.max_concurrency, q.rate_count, (extract(epoch FROM q.rate_per) * 1000)::bigint,
       q.default_max_concurrency, q.default_rate_count,
       (extract(epoch FROM q.default_rate_per) * 1000)::bigint,
       q.override_max_concurrency, q.override_rate_count,
       (extract(epoch FROM q.override_rate_per) * 1000)::bigint, q.limits_overridden_at
FROM names n
LEFT JOIN /* schema */delta_queue q ON q.name = n.name
ORDER BY n.name
