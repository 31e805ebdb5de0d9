-- Deletes up to $4 completed, cancelled and discarded jobs finalized longer ago than
-- their retention ($1, $2, $3 ms).
WITH doomed AS (
  SELECT id FROM /* schema */delta_job
  WHERE (state = 'completed'
         AND finalized_at < coalesce($5::timestamptz, now()) - $1 * interval '1 millisecond')
     OR (state = 'cancelled'
         AND finalized_at < coalesce($5::timestamptz, now()) - $2 * interval '1 millisecond')
     OR (state = 'discarded'
         AND finalized_at < coalesce($5::timestamptz, now()) - $3 * interval '1 millisecond')
  LIMIT $4
  FOR UPDATE SKIP LOCKED
)
DELETE FROM /* schema */delta_job j USING doomed WHERE j.id = doomed.id
