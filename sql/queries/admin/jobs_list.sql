-- One page of the jobs a filter selects (Admin::list_jobs), in keyset order by id after
-- the cursor $5.
SELECT j.id, j.kind, j.queue, j.state::text, j.priority, j.args, j.metadata, j.tags,
       j.attempt, j.max_attempts, j.attempted_at, j.attempted_by, j.created_at,
       j.scheduled_at, j.finalized_at, j.errors
FROM /* schema */delta_job j
WHERE /* include admin/_job_filter */
/* if newest */
  AND ($5::bigint IS NULL OR j.id < $5::bigint)
ORDER BY j.id DESC
/* end */
/* if oldest */
  AND ($5::bigint IS NULL OR j.id > $5::bigint)
ORDER BY j.id
/* end */
LIMIT $6
