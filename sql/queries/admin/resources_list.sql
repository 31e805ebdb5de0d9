-- One page of the resources a filter selects (Admin::list_resources), in keyset order by
-- id after the cursor $12. Run unprepared, so that the filter's unused conditions (an
-- empty array, a NULL) fold away when it is planned.
SELECT r.id, r.kind, r.object_id, r.namespace, r.state::text, r.object, r.generation,
       r.attempt, r.max_attempts, r.run_at, r.attempted_at, r.synced_at, r.created_at,
       r.updated_at, r.external_created_at, r.deleted_at, r.lease_owner, r.lease_expires_at,
       r.metadata, r.tags, r.errors, r.priority
FROM /* schema */delta_resource r
WHERE /* include admin/_resource_filter */
/* if newest */
  AND ($12::bigint IS NULL OR r.id < $12::bigint)
ORDER BY r.id DESC
/* end */
/* if oldest */
  AND ($12::bigint IS NULL OR r.id > $12::bigint)
ORDER BY r.id
/* end */
LIMIT $13
