-- Synced resources past their namespace's expiry TTL become runnable again (expired), up
-- to $1; notifies each of their kinds once on $3.
WITH c AS (SELECT coalesce($2::timestamptz, now()) AS now),
due AS (
  SELECT e.id
  FROM /* schema */delta_namespace n CROSS JOIN c
  CROSS JOIN LATERAL (
    -- Per namespace, the oldest synced rows past its TTL: `synced_at < now - ttl` is a
    -- range on the expiry index (namespace, synced_at), no arithmetic on the column.
    SELECT r.id FROM /* schema */delta_resource r
    WHERE r.state = 'synced' AND r.namespace = n.name AND r.synced_at < c.now - n.expiry_ttl
    ORDER BY r.synced_at
    LIMIT $1
    FOR UPDATE OF r SKIP LOCKED
  ) e
  WHERE n.expiry_ttl IS NOT NULL
  LIMIT $1
),
moved AS (
  UPDATE /* schema */delta_resource r
  SET state = 'expired', attempt = 0, run_at = c.now, updated_at = c.now, priority = 1
  FROM due, c
  WHERE r.id = due.id
  RETURNING r.kind
)
SELECT count(*), (SELECT count(pg_notify($3, k.kind)) FROM (SELECT DISTINCT kind FROM moved) k)
FROM moved
