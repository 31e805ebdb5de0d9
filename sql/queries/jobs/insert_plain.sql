-- A batch without unique jobs: no ON CONFLICT, whose speculative insertion costs every
-- row an arbiter-index check and an extra WAL record, and no join back to the input.
WITH c AS (SELECT coalesce($9::timestamptz, now()) AS now), inserted AS (
  INSERT INTO /* schema */delta_job AS j
    (kind, queue, state, priority, args, metadata, tags, max_attempts, created_at, scheduled_at)
  SELECT t.kind, t.queue,
         (CASE WHEN t.scheduled_at > c.now THEN 'scheduled' ELSE 'available' END)
           ::/* schema */job_state,
         t.priority, t.args::jsonb, t.metadata::jsonb, t.tags::text[], t.max_attempts, c.now,
         coalesce(t.scheduled_at, c.now)
  FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[],
              $7::smallint[], $8::timestamptz[])
         WITH ORDINALITY AS t(kind, queue, priority, args, metadata, tags, max_attempts,
                              scheduled_at, ord),
       c
  -- The rows come back in input order: INSERT ... SELECT ... ORDER BY inserts in the
  -- select's order and RETURNING yields each row as it is inserted (the result is checked
  -- for the right count; Postgres has kept this order in every release, and too much
  -- code depends on it for that to change).
  ORDER BY t.ord
  RETURNING j.id, j.queue, j.state, j.created_at, j.scheduled_at
)
SELECT (SELECT count(pg_notify($10, q.queue))
          FROM (SELECT DISTINCT queue FROM inserted WHERE $11::boolean AND state = 'available') q),
       id, state::text, created_at, scheduled_at
FROM inserted
