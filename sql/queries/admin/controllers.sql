-- Every registered kind (Admin::list_controllers): its informer's settings and state, the
-- informer job waiting to run ($2: the informers' queue; its jobs are of kind
-- delta.inform:<kind>), how many live clients ($1: the
-- heartbeat horizon) run it, its resources per state, what its last run wrote and its
-- flow limits (in force, defaults, override).
SELECT k.kind,
       (extract(epoch FROM k.inform_interval) * 1000)::bigint,
       k.last_inform_time, k.last_inform_started_at, k.last_inform_finished_at,
       k.last_inform_error,
       (SELECT min(j.scheduled_at) FROM /* schema */delta_job j
        WHERE j.queue = $2 AND j.kind = 'delta.inform:' || k.kind
          AND j.state IN ('available', 'scheduled', 'retryable')),
       (SELECT count(*) FROM /* schema */delta_client c
        WHERE c.stopped_at IS NULL AND c.heartbeat_at > now() - $1::interval
          AND c.metadata -> 'controllers' ? k.kind),
       coalesce(s.states, '{}'), coalesce(s.counts, '{}'), k.paused_at,
       k.last_inform_emitted, k.last_inform_inserted, k.last_inform_changed,
       k.last_inform_unchanged, k.last_inform_stale, k.last_inform_skipped_deleted,
       k.max_concurrency, k.rate_count, (extract(epoch FROM k.rate_per) * 1000)::bigint,
       k.default_max_concurrency, k.default_rate_count,
       (extract(epoch FROM k.default_rate_per) * 1000)::bigint,
       k.override_max_concurrency, k.override_rate_count,
       (extract(epoch FROM k.override_rate_per) * 1000)::bigint, k.limits_overridden_at
FROM /* schema */delta_controller k
LEFT JOIN LATERAL (
  SELECT array_agg(state::text ORDER BY state) AS states, array_agg(cnt ORDER BY state) AS counts
  FROM (SELECT r.state, count(*) AS cnt FROM /* schema */delta_resource r
        WHERE r.kind = k.kind GROUP BY r.state) per_state
) s ON true
ORDER BY k.kind
