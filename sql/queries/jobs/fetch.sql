-- Up to $4 available jobs of queue $1 and kinds $2 (each kind's timeout in $3, ms; < 0:
-- none), claimed for client $5.
WITH picked AS (
  SELECT id FROM /* schema */delta_job
  WHERE state = 'available' AND queue = $1 AND kind = ANY($2::text[])
    -- The scan starts after the cursor ($7-$9: priority, scheduled_at, id; NULL: from the
    -- beginning), an index condition: see internal::ScanCursors.
    AND (priority, scheduled_at, id) > (coalesce($7::smallint, 0),
                                        coalesce($8::timestamptz, '-infinity'),
                                        coalesce($9::bigint, 0))
    AND NOT EXISTS (SELECT 1 FROM /* schema */delta_queue q
                    WHERE q.name = $1 AND q.paused_at IS NOT NULL)
  ORDER BY priority, scheduled_at, id
  LIMIT $4
  FOR UPDATE SKIP LOCKED
)
UPDATE /* schema */delta_job j
SET state = 'running', attempt = j.attempt + 1,
    attempted_at = coalesce($6::timestamptz, now()), attempted_by = $5,
    timeout_at = CASE WHEN t.ms < 0 THEN NULL
                      ELSE coalesce($6::timestamptz, now()) + t.ms * interval '1 millisecond' END
FROM picked, unnest($2::text[], $3::bigint[]) AS t(kind, ms)
WHERE j.id = picked.id AND t.kind = j.kind
RETURNING j.id, j.kind, j.queue, j.state::text, j.priority, j.args, j.metadata, j.tags,
          j.attempt, j.max_attempts, j.attempted_at, j.attempted_by, j.created_at,
          j.scheduled_at, j.finalized_at, j.errors
