INSERT INTO /* schema */delta_queue AS q (name, paused_at, updated_at)
VALUES ($1, CASE WHEN $2::boolean THEN coalesce($3::timestamptz, now()) END,
        coalesce($3::timestamptz, now()))
ON CONFLICT (name) DO UPDATE SET paused_at = EXCLUDED.paused_at, updated_at = EXCLUDED.updated_at
