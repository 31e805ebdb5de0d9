-- Durations in ms; NULL: none. Written only when something changed.
INSERT INTO /* schema */delta_namespace AS n
  (name, expiry_ttl, synced_retention, deleted_retention, degraded_retention)
VALUES ($1, $2::bigint * interval '1 millisecond', $3::bigint * interval '1 millisecond',
        $4::bigint * interval '1 millisecond', $5::bigint * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET
  expiry_ttl = EXCLUDED.expiry_ttl, synced_retention = EXCLUDED.synced_retention,
  deleted_retention = EXCLUDED.deleted_retention,
  degraded_retention = EXCLUDED.degraded_retention, updated_at = now()
WHERE (n.expiry_ttl, n.synced_retention, n.deleted_retention, n.degraded_retention)
  IS DISTINCT FROM (EXCLUDED.expiry_ttl, EXCLUDED.synced_retention, EXCLUDED.deleted_retention,
                    EXCLUDED.degraded_retention)
