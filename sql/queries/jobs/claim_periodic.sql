-- Claims a due run of periodic job $1: its next run moves on by whole intervals ($2 ms)
-- to the first one after now; returns a row when the run was due.
UPDATE /* schema */delta_periodic_job SET
  last_run_at = coalesce($3::timestamptz, now()),
  next_run_at = next_run_at
                + ($2::bigint * (floor(extract(epoch FROM (coalesce($3::timestamptz, now())
                                                            - next_run_at)) * 1000
                                       / $2::bigint) + 1))::float8
                  * interval '1 millisecond',
  updated_at = coalesce($3::timestamptz, now())
WHERE name = $1 AND next_run_at <= coalesce($3::timestamptz, now())
RETURNING name
