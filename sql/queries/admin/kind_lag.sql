-- The lag per kind (Admin::kind_lag): for every kind that has runnable resources or a
-- registered controller, how many milliseconds the oldest resource that is due but not
-- claimed (scheduled, failed or expired, run_at come) has waited since it was due (NULL:
-- none waits). The kinds are found by a skip scan of the claim index (kind, priority,
-- run_at, id), one step per kind, and each kind's oldest one step down the same index per
-- priority class.
WITH RECURSIVE runnable(kind) AS (
  (SELECT r.kind FROM /* schema */delta_resource r
   WHERE r.state IN ('scheduled', 'failed', 'expired')
   ORDER BY r.kind LIMIT 1)
  UNION ALL
  SELECT (SELECT r.kind FROM /* schema */delta_resource r
          WHERE r.state IN ('scheduled', 'failed', 'expired') AND r.kind > runnable.kind
          ORDER BY r.kind LIMIT 1)
  FROM runnable WHERE runnable.kind IS NOT NULL
), kinds AS (
  SELECT kind FROM runnable WHERE kind IS NOT NULL
  UNION
  SELECT kind FROM /* schema */delta_controller
)
SELECT k.kind,
       (extract(epoch FROM now() - (
          SELECT min(oldest.run_at)
          FROM unnest('{0,1}'::smallint[]) AS p(priority)
          CROSS JOIN LATERAL (
            SELECT r.run_at FROM /* schema */delta_resource r
            WHERE r.kind = k.kind AND r.state IN ('scheduled', 'failed', 'expired')
              AND r.priority = p.priority AND r.run_at <= now()
            ORDER BY r.run_at
            LIMIT 1) oldest)) * 1000)::bigint
FROM kinds k
ORDER BY k.kind
