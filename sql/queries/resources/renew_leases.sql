-- Extends the leases of claims $1 (each with its claim time $2 and lease $3, ms; < 0:
-- none) that client $4 still holds; returns the ids it holds.
UPDATE /* schema */delta_resource r
SET lease_expires_at = CASE WHEN u.lease_ms < 0 THEN 'infinity'::timestamptz
                            ELSE coalesce($5::timestamptz, now())
                                 + u.lease_ms * interval '1 millisecond' END
FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[],
            array_fill($4::text, ARRAY[cardinality($1::bigint[])]),
            array_fill('pending'::text, ARRAY[cardinality($1::bigint[])]))
       AS u(id, attempted_at, lease_ms, owner, pending)
WHERE r.id = u.id AND r.attempted_at = u.attempted_at AND r.lease_owner = u.owner
  -- Batch columns, not constants (owner and state, array_fill per row of the batch): see
  -- the fence in jobs/complete.sql.
  AND r.state::text = u.pending
RETURNING r.id
