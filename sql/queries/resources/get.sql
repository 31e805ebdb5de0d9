SELECT id, kind, object_id, namespace, state::text, object, generation, attempt, max_attempts,
       run_at, attempted_at, synced_at, created_at, updated_at, external_created_at, deleted_at,
       lease_owner, lease_expires_at, metadata, tags, errors, priority
FROM /* schema */delta_resource
WHERE kind = $1 AND object_id = $2
