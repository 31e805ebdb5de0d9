-- A batch of jobs some of which are unique: rows of the batch are $1-$8 (kind, queue,
-- priority, args, metadata, tags, max_attempts, scheduled_at), $9 and $10 the unique key
-- (hashed here) and unique-states mask of each row (NULL: not unique), $11 the clock.
-- Returns one row per input row, in input order; a unique job that a job in its unique
-- states already holds comes back with its key and no id.
WITH input AS MATERIALIZED (
  -- The ids are taken here, so that the result can join the inserted rows back to the
  -- input. The sequence's name is a string, which the placeholder in it is rendered into
  -- all the same; unrendered, this file does not run (the sequence's name is not valid).
  SELECT nextval('/* schema */delta_job_id_seq') AS id, t.kind, t.queue, t.priority,
         t.args::jsonb AS args, t.metadata::jsonb AS metadata, t.tags::text[] AS tags,
         t.max_attempts, coalesce(t.scheduled_at, c.now) AS scheduled_at, c.now,
         CASE WHEN t.unique_key IS NULL THEN NULL
              ELSE sha256(convert_to(t.unique_key, 'UTF8')) END AS unique_key,
         t.unique_states, t.ord
  FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[],
              $7::smallint[], $8::timestamptz[], $9::text[], $10::smallint[])
         WITH ORDINALITY AS t(kind, queue, priority, args, metadata, tags, max_attempts,
                              scheduled_at, unique_key, unique_states, ord),
       (SELECT coalesce($11::timestamptz, now()) AS now) c
  ORDER BY t.ord
), inserted AS (
  INSERT INTO /* schema */delta_job AS j
    (id, kind, queue, state, priority, args, metadata, tags, max_attempts, created_at,
     scheduled_at, unique_key, unique_states)
  OVERRIDING SYSTEM VALUE
  SELECT id, kind, queue,
         (CASE WHEN scheduled_at > now THEN 'scheduled' ELSE 'available' END)
           ::/* schema */job_state,
         priority, args, metadata, tags, max_attempts, now, scheduled_at, unique_key,
         unique_states
  FROM input ORDER BY ord
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND unique_states IS NOT NULL
    AND /* schema */job_state_in_bitmask(unique_states, state)
  DO NOTHING
  RETURNING j.id, j.queue, j.state, j.created_at, j.scheduled_at
)
SELECT input.ord, encode(input.unique_key, 'hex'),
       (SELECT count(pg_notify($12, q.queue))
          FROM (SELECT DISTINCT queue FROM inserted WHERE $13::boolean AND state = 'available') q),
       inserted.id, inserted.state::text, inserted.created_at, inserted.scheduled_at
FROM input LEFT JOIN inserted ON inserted.id = input.id
ORDER BY input.ord
