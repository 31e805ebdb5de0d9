-- Up to $2 pending resources whose lease expired or whose client is unknown, stopped or
-- has not heartbeated for $1 ms: failed (degraded after their last attempt), with why.
WITH c AS (SELECT coalesce($3::timestamptz, now()) AS now),
stuck AS (
  SELECT r.id,
         CASE WHEN r.lease_expires_at < c.now
                THEN 'its lease expired at ' || r.lease_expires_at::text || ' (held by ' || r.lease_owner || ')'
              WHEN cl.id IS NULL THEN 'its client ' || r.lease_owner || ' is unknown'
              WHEN cl.stopped_at IS NOT NULL THEN 'its client ' || cl.id || ' stopped'
              ELSE 'its client ' || cl.id || ' stopped heartbeating' END AS reason
  FROM /* schema */delta_resource r
  CROSS JOIN c
  LEFT JOIN /* schema */delta_client cl ON cl.id = r.lease_owner
  WHERE r.state = 'pending'
    AND (r.lease_expires_at < c.now OR cl.id IS NULL OR cl.stopped_at IS NOT NULL
         OR cl.heartbeat_at < c.now - $1 * interval '1 millisecond')
  ORDER BY r.id
  LIMIT $2
  FOR UPDATE OF r SKIP LOCKED
)
UPDATE /* schema */delta_resource r SET
  state = (CASE WHEN r.attempt >= r.max_attempts THEN 'degraded' ELSE 'failed' END)
            ::/* schema */resource_state,
  run_at = c.now, updated_at = c.now, lease_owner = NULL, lease_expires_at = NULL,
  priority = 1,  -- a retry: background work
  errors = (r.errors || jsonb_build_object('attempt', r.attempt, 'at', c.now::text,
                                           'error', 'rescued: ' || stuck.reason,
                                           'type', 'rescue'))
             [greatest(cardinality(r.errors) - 18, 1):]
FROM stuck, c
WHERE r.id = stuck.id
RETURNING stuck.reason, r.id, r.kind, r.object_id, r.namespace, r.state::text, r.object,
          r.generation, r.attempt, r.max_attempts, r.run_at, r.attempted_at, r.synced_at,
          r.created_at, r.updated_at, r.external_created_at, r.deleted_at, r.lease_owner,
          r.lease_expires_at, r.metadata, r.tags, r.errors, r.priority
