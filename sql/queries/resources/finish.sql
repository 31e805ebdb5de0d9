-- The outcomes of a batch of claims: id, claim time, generation, outcome (synced, failed,
-- deleted, requeue, release), delay (ms) and error per row, reported by client $7.
UPDATE /* schema */delta_resource r SET
  state = (CASE WHEN r.generation <> u.generation AND u.outcome <> 'release' THEN 'scheduled'
                WHEN u.outcome = 'synced' THEN 'synced'
                WHEN u.outcome = 'failed' THEN
                  CASE WHEN r.attempt >= r.max_attempts THEN 'degraded' ELSE 'failed' END
                WHEN u.outcome = 'deleted' THEN 'deleted'
                ELSE 'scheduled' END)::/* schema */resource_state,
  attempt = CASE WHEN u.outcome IN ('requeue', 'release') THEN greatest(r.attempt - 1, 0)
                 ELSE r.attempt END,
  -- A newer generation informed while it was worked is due at once, or when the inform
  -- said (its debounce).
  run_at = CASE WHEN u.outcome = 'release' THEN c.now
                WHEN r.generation <> u.generation THEN greatest(c.now, r.run_at)
                WHEN u.outcome IN ('failed', 'requeue')
                  THEN c.now + u.delay_ms * interval '1 millisecond'
                ELSE r.run_at END,
  synced_at = CASE WHEN r.generation = u.generation AND u.outcome = 'synced' THEN c.now
                   ELSE r.synced_at END,
  deleted_at = CASE WHEN r.generation = u.generation AND u.outcome = 'deleted' THEN c.now
                    ELSE r.deleted_at END,
  errors = CASE WHEN u.error IS NULL OR r.generation <> u.generation THEN r.errors
                ELSE (r.errors || u.error::jsonb)[greatest(cardinality(r.errors) - 18, 1):] END,
  -- A retry after a failure, and a requeue, are background work (priority class 1); a
  -- newer generation keeps the class its inform gave it.
  priority = CASE WHEN r.generation = u.generation AND u.outcome IN ('failed', 'requeue') THEN 1
                  ELSE r.priority END,
  lease_owner = NULL, lease_expires_at = NULL, updated_at = c.now
FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::text[], $5::bigint[],
            $6::text[], array_fill($7::text, ARRAY[cardinality($1::bigint[])]),
            array_fill('pending'::text, ARRAY[cardinality($1::bigint[])]))
       AS u(id, attempted_at, generation, outcome, delay_ms, error, owner, pending),
     (SELECT coalesce($8::timestamptz, now()) AS now) c
-- The fence (lease owner + claim time + pending) makes a late outcome of a claim that
-- was rescued meanwhile a no-op. Owner and state are columns of the batch, not
-- constants (the fence in jobs/complete.sql explains why).
WHERE r.id = u.id AND r.attempted_at = u.attempted_at AND r.lease_owner = u.owner
  AND r.state::text = u.pending
RETURNING r.id, r.state::text
