-- A failed or degraded resource runs again now, with its attempts reset.
UPDATE /* schema */delta_resource r
SET state = 'scheduled', attempt = 0, priority = 0, run_at = coalesce($3::timestamptz, now()),
    updated_at = coalesce($3::timestamptz, now())
WHERE kind = $1 AND object_id = $2 AND state IN ('failed', 'degraded')
RETURNING r.id, r.kind, r.object_id, r.namespace, r.state::text, r.object, r.generation,
          r.attempt, r.max_attempts, r.run_at, r.attempted_at, r.synced_at, r.created_at,
          r.updated_at, r.external_created_at, r.deleted_at, r.lease_owner, r.lease_expires_at,
          r.metadata, r.tags, r.errors, r.priority
