-- Every namespace (Admin::list_namespaces): its settings (intervals in milliseconds) and
-- its resources per state and its flow limits.
SELECT n.name,
       (extract(epoch FROM n.expiry_ttl) * 1000)::bigint,
       (extract(epoch FROM n.synced_retention) * 1000)::bigint,
       (extract(epoch FROM n.deleted_retention) * 1000)::bigint,
       (extract(epoch FROM n.degraded_retention) * 1000)::bigint,
       coalesce(s.states, '{}'), coalesce(s.counts, '{}'),
       n.max_concurrency, n.rate_count, (extract(epoch FROM n.rate_per) * 1000)::bigint,
       n.default_max_concurrency, n.default_rate_count,
       (extract(epoch FROM n.default_rate_per) * 1000)::bigint,
       n.override_max_concurrency, n.override_rate_count,
       (extract(epoch FROM n.override_rate_per) * 1000)::bigint, n.limits_overridden_at
FROM /* schema */delta_namespace n
LEFT JOIN LATERAL (
  SELECT array_agg(state::text ORDER BY state) AS states, array_agg(cnt ORDER BY state) AS counts
  FROM (SELECT r.state, count(*) AS cnt FROM /* schema */delta_resource r
        WHERE r.namespace = n.name GROUP BY r.state) per_state
) s ON true
ORDER BY n.name
