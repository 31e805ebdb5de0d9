INSERT INTO /* schema */delta_client AS c (id, hostname, pid, started_at, heartbeat_at, metadata)
VALUES ($1, $2, $3, coalesce($5::timestamptz, now()), coalesce($5::timestamptz, now()), $4)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = NULL,
                               metadata = EXCLUDED.metadata
