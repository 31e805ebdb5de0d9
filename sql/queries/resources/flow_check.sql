-- The check of an optimistic limited claim (docs/flow-control.md): in the claim's
-- transaction, after the claim and flow_lock, with a snapshot taken once the limit rows
-- are locked. Per limited scope -- the kinds $1 and the namespace $2 -- counts the
-- resources pending now (this transaction's claim included) and those this transaction
-- claimed (their row versions are its own), and moves each rate limiter past the starts
-- taken: delta_flow_take refuses the whole claim (SQLSTATE DL001) when a limit would be
-- exceeded. Returns per scope: 0 kind / 1 namespace, name, its limits, its rate state
-- before, pending, taken by this claim, the database's clock and the rate state after.
WITH clock AS (SELECT clock_timestamp() AS now),
pending AS (
  SELECT r.kind, r.namespace = $2 AS in_ns, count(*) AS n,
         count(*) FILTER (WHERE r.xmin = pg_current_xact_id()::xid) AS taken
  FROM /* schema */delta_resource r
  WHERE r.state = 'pending' AND (r.kind = ANY($1::text[]) OR r.namespace = $2)
  GROUP BY 1, 2
),
scopes AS (
  SELECT 0 AS scope_group, s.kind AS name, s.max_concurrency, s.rate_count, s.rate_per,
         s.rate_tat,
         (SELECT coalesce(sum(p.n), 0) FROM pending p WHERE p.kind = s.kind)::bigint AS in_use,
         (SELECT coalesce(sum(p.taken), 0) FROM pending p WHERE p.kind = s.kind)::bigint AS taken
  FROM /* schema */delta_controller s
  WHERE s.kind = ANY($1::text[]) AND (s.max_concurrency IS NOT NULL OR s.rate_count IS NOT NULL)
  UNION ALL
  SELECT 1, s.name, s.max_concurrency, s.rate_count, s.rate_per, s.rate_tat,
         (SELECT coalesce(sum(p.n), 0) FROM pending p WHERE p.in_ns)::bigint,
         (SELECT coalesce(sum(p.taken), 0) FROM pending p WHERE p.in_ns)::bigint
  FROM /* schema */delta_namespace s
  WHERE s.name = $2 AND (s.max_concurrency IS NOT NULL OR s.rate_count IS NOT NULL)
),
checked AS MATERIALIZED (
  SELECT s.*, c.now,
         /* schema */delta_flow_take(
           s.name, c.now, s.rate_tat, s.max_concurrency, s.in_use, s.rate_count, s.rate_per,
           s.taken,
           -- A kind's rate and its namespace's both space these starts.
           EXISTS (SELECT FROM scopes o
                   WHERE o.scope_group <> s.scope_group AND o.rate_count IS NOT NULL
                     AND o.taken > 0)
           AND s.rate_count IS NOT NULL) AS next_tat
  FROM scopes s CROSS JOIN clock c
),
kinds_set AS (
  UPDATE /* schema */delta_controller s SET rate_tat = c.next_tat
  FROM checked c
  WHERE c.scope_group = 0 AND s.kind = c.name AND c.taken > 0 AND c.rate_count IS NOT NULL
),
namespace_set AS (
  UPDATE /* schema */delta_namespace s SET rate_tat = c.next_tat
  FROM checked c
  WHERE c.scope_group = 1 AND s.name = c.name AND c.taken > 0 AND c.rate_count IS NOT NULL
)
SELECT scope_group, name, max_concurrency, rate_count,
       (extract(epoch FROM rate_per) * 1000)::bigint, rate_tat, in_use, taken, now, next_tat
FROM checked
ORDER BY 1, 2
