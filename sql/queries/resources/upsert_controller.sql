-- The inform interval in ms; NULL: no periodic inform. Written only when it changed.
INSERT INTO /* schema */delta_controller AS k (kind, inform_interval)
VALUES ($1, $2::bigint * interval '1 millisecond')
ON CONFLICT (kind) DO UPDATE SET inform_interval = EXCLUDED.inform_interval, updated_at = now()
WHERE k.inform_interval IS DISTINCT FROM EXCLUDED.inform_interval
