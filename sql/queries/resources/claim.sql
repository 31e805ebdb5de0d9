-- Claims runnable resources of namespace $3 for client $6: per kind ($1) at most its free
-- slots ($2) and with its lease ($5, ms; < 0: none), at most $4 in all; per kind the due
-- rows of priority class 0 (fresh changes) before those of class 1 (background work).
WITH picked AS (
  -- Per kind at most its free slots (LATERAL ... LIMIT), at most $4 in all; the outer
  -- LIMIT stops the scan, so rows beyond it are never locked.
  SELECT p.ctid AS tid
  FROM (
    -- A paused kind (delta_controller.paused_at) is not claimed: one primary-key probe per
    -- kind, before any of its rows is read, so that a pause holds in every process from
    -- its next claim on.
    SELECT u.*
    FROM unnest($1::text[], $2::integer[], $8::timestamptz[], $9::bigint[],
                $10::timestamptz[], $11::bigint[])
           AS u(kind, lim, fresh_run_at, fresh_id, background_run_at, background_id)
    WHERE NOT EXISTS (SELECT FROM /* schema */delta_controller c
                      WHERE c.kind = u.kind AND c.paused_at IS NOT NULL)
  ) k
  CROSS JOIN LATERAL (
    -- Fresh changes first: a kind's due rows of priority class 0, then, while its limit is
    -- not reached, those of class 1. Each class is its own range of the claim index
    -- (kind, priority, run_at, id), so that the run_at bound stays an index condition;
    -- the outer LIMIT stops the append, so class 1 is not read (or locked) once class 0
    -- fills the limit.
    SELECT * FROM (
      SELECT r.ctid FROM /* schema */delta_resource r
      WHERE r.kind = k.kind AND r.state IN ('scheduled', 'failed', 'expired')
        AND r.priority = 0
        -- The run_at bound is an index condition (not a join with a CTE): rows scheduled
        -- later are never read.
        AND r.run_at <= coalesce($7::timestamptz, now()) AND r.namespace = $3
        -- Each class's scan starts after its cursor ($8, $9 for class 0, $10, $11 for
        -- class 1: run_at and id; NULL: from the start), an index condition: the btree is
        -- entered past the index entries of rows claimed since the last vacuum, which a
        -- scan from the start reads through (killed, but still on their pages: ~600 pages
        -- per 100,000 claimed rows). ClaimCursors says when a claim starts from the
        -- beginning.
        AND (r.run_at, r.id) > (coalesce(k.fresh_run_at, '-infinity'), coalesce(k.fresh_id, 0))
      ORDER BY r.run_at, r.id
      LIMIT k.lim
      FOR UPDATE OF r SKIP LOCKED
    ) fresh
    UNION ALL
    SELECT * FROM (
      SELECT r.ctid FROM /* schema */delta_resource r
      WHERE r.kind = k.kind AND r.state IN ('scheduled', 'failed', 'expired')
        AND r.priority = 1
        AND r.run_at <= coalesce($7::timestamptz, now()) AND r.namespace = $3
        AND (r.run_at, r.id) > (coalesce(k.background_run_at, '-infinity'),
                                coalesce(k.background_id, 0))
      ORDER BY r.run_at, r.id
      LIMIT k.lim
      FOR UPDATE OF r SKIP LOCKED
    ) background
    LIMIT k.lim
  ) p
  LIMIT $4
)
-- The update finds the picked rows by their tuple ids (ctid = ANY of an array: a TID scan)
-- and each row's lease from its kind, so that the generic plan, which cannot know how many
-- rows the limits let through, has no join to misjudge (with `FROM picked`, it hash-joined
-- them with a sequential scan of the whole table: 53 ms instead of ~1 for 100 of 100,000
-- rows). A tuple id is stable here: the row is locked FOR UPDATE by this statement. Unlike
-- a primary-key lookup it reads no index page and no older version of the row. (A row FOR
-- UPDATE found updated after the snapshot is locked in its newest version, which the
-- update's snapshot does not see: that row is skipped this time and stays runnable -- the
-- same as a row another claimer holds.)
UPDATE /* schema */delta_resource r
SET state = 'pending', attempt = r.attempt + 1,
    attempted_at = coalesce($7::timestamptz, now()),
    updated_at = coalesce($7::timestamptz, now()),
    lease_owner = $6,
    lease_expires_at = (
      SELECT CASE WHEN k.lease_ms < 0 THEN 'infinity'::timestamptz
                  ELSE coalesce($7::timestamptz, now()) + k.lease_ms * interval '1 millisecond'
             END
      FROM unnest($1::text[], $5::bigint[]) AS k(kind, lease_ms)
      WHERE k.kind = r.kind
      LIMIT 1)
WHERE r.ctid = ANY (ARRAY(SELECT tid FROM picked))
RETURNING r.id, r.kind, r.object_id, r.namespace, r.state::text, r.object, r.generation,
          r.attempt, r.max_attempts, r.run_at, r.attempted_at, r.synced_at, r.created_at,
          r.updated_at, r.external_created_at, r.deleted_at, r.lease_owner, r.lease_expires_at,
          r.metadata, r.tags, r.errors, r.priority
