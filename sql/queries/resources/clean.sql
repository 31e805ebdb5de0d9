-- Deletes up to $1 resources past their namespace's retention of their state.
WITH c AS (SELECT coalesce($2::timestamptz, now()) AS now),
doomed AS (
  SELECT d.id
  FROM /* schema */delta_namespace n CROSS JOIN c
  CROSS JOIN LATERAL (VALUES ('synced', n.synced_retention), ('deleted', n.deleted_retention),
                             ('degraded', n.degraded_retention)) AS p(state, retention)
  CROSS JOIN LATERAL (
    -- Rows past retention, per namespace and state, oldest first (the cleaner index on
    -- (state, updated_at)).
    SELECT r.id FROM /* schema */delta_resource r
    -- The constant IN list lets the planner use the partial cleaner index.
    WHERE r.state IN ('synced', 'deleted', 'degraded')
      AND r.state = p.state::/* schema */resource_state AND r.namespace = n.name
      AND r.updated_at < c.now - p.retention
    ORDER BY r.updated_at
    LIMIT $1
    FOR UPDATE OF r SKIP LOCKED
  ) d
  WHERE p.retention IS NOT NULL
    -- A namespace with an expiry TTL expires its synced rows instead.
    AND NOT (p.state = 'synced' AND n.expiry_ttl IS NOT NULL)
  LIMIT $1
)
DELETE FROM /* schema */delta_resource r USING doomed WHERE r.id = doomed.id
