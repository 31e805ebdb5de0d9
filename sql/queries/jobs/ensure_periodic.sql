-- The periodic job $1 (every $2 ms), due now if $3 (run on start), else after one interval.
INSERT INTO /* schema */delta_periodic_job (name, next_run_at, updated_at)
VALUES ($1,
        CASE WHEN $3::boolean THEN coalesce($4::timestamptz, now())
             ELSE coalesce($4::timestamptz, now()) + $2 * interval '1 millisecond' END,
        coalesce($4::timestamptz, now()))
ON CONFLICT (name) DO NOTHING
