-- Returns the cursor of the last inform of kind $1 (no row: the kind has no controller).
UPDATE /* schema */delta_controller SET last_inform_started_at = coalesce($2::timestamptz, now())
WHERE kind = $1
RETURNING last_inform_time
