-- The cursor never moves back; an empty error ($3) clears the last one. $5..$10: what the
-- run did (emitted, inserted, changed, unchanged, stale, deleted skipped).
UPDATE /* schema */delta_controller
SET last_inform_time = greatest(last_inform_time, $2::timestamptz),
    last_inform_finished_at = coalesce($4::timestamptz, now()),
    last_inform_error = nullif($3, ''),
    last_inform_emitted = $5::bigint,
    last_inform_inserted = $6::bigint,
    last_inform_changed = $7::bigint,
    last_inform_unchanged = $8::bigint,
    last_inform_stale = $9::bigint,
    last_inform_skipped_deleted = $10::bigint,
    updated_at = coalesce($4::timestamptz, now())
WHERE kind = $1
