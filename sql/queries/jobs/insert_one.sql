-- One job that is not unique: a plain INSERT ... VALUES, without the batch machinery.
WITH c AS (SELECT coalesce($9::timestamptz, now()) AS now), inserted AS (
  INSERT INTO /* schema */delta_job AS j
    (kind, queue, state, priority, args, metadata, tags, max_attempts, created_at, scheduled_at)
  SELECT $1, $2,
         (CASE WHEN $8::timestamptz > c.now THEN 'scheduled' ELSE 'available' END)
           ::/* schema */job_state,
         $3, $4, $5, $6, $7, c.now, coalesce($8::timestamptz, c.now)
  FROM c
  RETURNING j.id, j.kind, j.queue, j.state::text, j.priority, j.args, j.metadata, j.tags,
            j.attempt, j.max_attempts, j.attempted_at, j.attempted_by, j.created_at,
            j.scheduled_at, j.finalized_at, j.errors
)
SELECT (SELECT count(pg_notify($10, i.queue))
          FROM inserted i WHERE $11::boolean AND i.state = 'available'),
       inserted.*
FROM inserted
