UPDATE /* schema */delta_client SET stopped_at = coalesce($2::timestamptz, now()) WHERE id = $1
