-- The cursor never moves back; an empty error ($3) clears the last one.
UPDATE /* schema */delta_controller
SET last_inform_time = greatest(last_inform_time, $2::timestamptz),
    last_inform_finished_at = coalesce($4::timestamptz, now()),
    last_inform_error = nullif($3, ''),
    updated_at = coalesce($4::timestamptz, now())
WHERE kind = $1
