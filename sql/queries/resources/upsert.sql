-- One upsert for a batch of objects of one kind ($1). The rows are $2-$8 (object_id,
-- namespace, body, metadata, max_attempts, tags, external_created_at) and $14; $9 lets
-- deleted rows be resurrected, $10 lists the forced object ids, $11 is the clock, $12 and
-- $13 the channel to notify and whether to. A row is written when it is new, its content
-- hash differs ($14: SHA-256 of the body, computed in the client), it is forced ($10), or
-- it is deleted and may be resurrected ($9). $16 holds each row's priority class (NULL:
-- 0, fresh); $15 lists the forced ids of a process_existing resync that left the caller's
-- class to delta: unchanged, they are due as background work (1). A changed row that is
-- being worked stays pending: the finish sees the new generation and schedules it again instead of marking
-- it synced.
--
-- This form takes every row through ON CONFLICT; upsert_split.sql is the same inform for
-- statements that are their own transaction. Each comes in two variants: full (the parts
-- marked "if full" kept) returns the rows after the inform; brief returns statuses only,
-- and the written rows keep just what the statement itself reads of them.
-- A new or changed row is due once its kind's debounce (delta_controller.debounce) has
-- passed without a newer change: each change moves run_at.
WITH c AS (SELECT coalesce($11::timestamptz, now()) AS now,
                  coalesce((SELECT k.debounce FROM /* schema */delta_controller k
                            WHERE k.kind = $1), interval '0') AS debounce),
input AS (
  SELECT t.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[],
                         $7::text[], $8::timestamptz[], $14::text[], $16::smallint[])
    WITH ORDINALITY AS t(object_id, namespace, body, metadata, max_attempts, tags,
                         external_created_at, hash, priority, ord)
),
up AS (
  INSERT INTO /* schema */delta_resource AS r
    (kind, object_id, namespace, state, object, hash, max_attempts, run_at, created_at,
     updated_at, external_created_at, metadata, tags, priority)
  SELECT $1, i.object_id, i.namespace, 'scheduled', i.body::jsonb,
         decode(i.hash, 'hex'), i.max_attempts, c.now + c.debounce, c.now, c.now,
         i.external_created_at, i.metadata::jsonb, i.tags::text[], coalesce(i.priority, 0)
  FROM input i, c
  -- One lock order for every statement: concurrent informs of overlapping ids (informer
  -- batches in flight together, inform_many from several threads or processes) wait for
  -- each other instead of deadlocking. Runs inside transactions, where an error would
  -- abort the caller's transaction.
  ORDER BY i.object_id
  ON CONFLICT (kind, object_id) DO UPDATE SET
    object = EXCLUDED.object, hash = EXCLUDED.hash, generation = r.generation + 1,
    attempt = 0, errors = '{}',
    state = (CASE WHEN r.state = 'pending' THEN 'pending' ELSE 'scheduled' END)
              ::/* schema */resource_state,
    run_at = EXCLUDED.run_at, updated_at = EXCLUDED.updated_at,
    namespace = EXCLUDED.namespace, max_attempts = EXCLUDED.max_attempts,
    metadata = EXCLUDED.metadata, tags = EXCLUDED.tags,
    external_created_at = coalesce(EXCLUDED.external_created_at, r.external_created_at),
    deleted_at = NULL,
    -- Forced by a resync ($15) and unchanged: background work (a row already due keeps
    -- its class); else the caller's class.
    priority = CASE WHEN r.hash = EXCLUDED.hash AND r.state <> 'deleted'
                         AND EXCLUDED.object_id = ANY($15::text[])
                    THEN (CASE WHEN r.state IN ('scheduled', 'failed', 'expired') THEN r.priority
                               ELSE 1 END)
                    ELSE EXCLUDED.priority END
  WHERE (r.state <> 'deleted' OR $9::boolean)
    AND (r.hash <> EXCLUDED.hash OR r.state = 'deleted' OR EXCLUDED.object_id = ANY($10::text[]))
  -- A new row has generation 1 (the column default) and an updated one at least 2 (the
  -- update adds one): tells them apart without xmax, which not every engine that speaks
  -- PostgreSQL's SQL has.
  RETURNING (r.generation = 1) AS inserted, r.id, r.object_id, r.state::text AS state
            /* if full */, r.kind, r.namespace, r.object, r.generation, r.attempt,
            r.max_attempts, r.run_at, r.attempted_at, r.synced_at, r.created_at, r.updated_at,
            r.external_created_at, r.deleted_at, r.lease_owner, r.lease_expires_at,
            r.metadata, r.tags, r.errors, r.priority/* end */
)
SELECT i.ord,
       CASE WHEN up.id IS NOT NULL THEN (CASE WHEN up.inserted THEN 'inserted' ELSE 'changed' END)
            WHEN e.state = 'deleted' THEN 'skipped_deleted'
            ELSE 'unchanged' END,
       (SELECT count(pg_notify($12, $1))
          FROM (SELECT 1 FROM up WHERE $13::boolean AND up.state <> 'pending' LIMIT 1) n)
       /* if full */
       -- The row as written, else as stored (ResourceStore::parse_row's columns, twice).
       , up.id, up.kind, up.object_id, up.namespace, up.state::text, up.object, up.generation,
       up.attempt, up.max_attempts, up.run_at, up.attempted_at, up.synced_at, up.created_at,
       up.updated_at, up.external_created_at, up.deleted_at, up.lease_owner,
       up.lease_expires_at, up.metadata, up.tags, up.errors, up.priority,
       e.id, e.kind, e.object_id, e.namespace, e.state::text, e.object, e.generation,
       e.attempt, e.max_attempts, e.run_at, e.attempted_at, e.synced_at, e.created_at,
       e.updated_at, e.external_created_at, e.deleted_at, e.lease_owner, e.lease_expires_at,
       e.metadata, e.tags, e.errors, e.priority
       /* end */
FROM input i
LEFT JOIN up ON up.object_id = i.object_id
-- The stored row of what was not written: one unique-index probe per input row (LIMIT
-- keeps the planner from turning the lookup into a hash join over the whole table).
LEFT JOIN LATERAL (
  SELECT * FROM /* schema */delta_resource e
  WHERE up.id IS NULL AND e.kind = $1 AND e.object_id = i.object_id
  LIMIT 1
) e ON true
ORDER BY i.ord
