-- One batch of a bulk action (Admin::retry_resources, ...): the next $13 resources the
-- filter selects after id $12, locked in id order and changed as the action says (the
-- caller narrowed the filter's states to those the action applies to). Returns how many
-- changed, the last id seen (the next batch starts after it) and the kinds changed (whose
-- workers are woken). A row whose state moved on while the batch waited for its lock no
-- longer matches and is skipped.
WITH batch AS (
  SELECT r.id
  FROM /* schema */delta_resource r
  WHERE /* include admin/_resource_filter */
    AND r.id > $12::bigint
/* if due_later */
    AND r.run_at > now()
/* end */
  ORDER BY r.id
  LIMIT $13
  FOR UPDATE
), changed AS (
  UPDATE /* schema */delta_resource r SET
/* if retry */
    state = 'scheduled', attempt = 0, priority = 0, run_at = now(),
/* end */
/* if invalidate */
    state = 'expired', attempt = 0, priority = 1, run_at = now(),
/* end */
/* if delete */
    state = 'deleted', deleted_at = now(), lease_owner = NULL, lease_expires_at = NULL,
/* end */
/* if schedule_now */
    run_at = now(), priority = 0,
/* end */
    updated_at = now()
  FROM batch
  WHERE r.id = batch.id
  RETURNING r.id, r.kind
)
SELECT (SELECT count(*) FROM changed),
       (SELECT max(id) FROM batch),
       (SELECT coalesce(array_agg(DISTINCT kind), '{}') FROM changed)
