-- The inform interval and the debounce in ms; NULL: no periodic inform, no debounce.
-- Written only when they changed.
INSERT INTO /* schema */delta_controller AS k (kind, inform_interval, debounce)
VALUES ($1, $2::bigint * interval '1 millisecond', $3::bigint * interval '1 millisecond')
ON CONFLICT (kind) DO UPDATE SET inform_interval = EXCLUDED.inform_interval,
                                 debounce = EXCLUDED.debounce, updated_at = now()
WHERE (k.inform_interval, k.debounce) IS DISTINCT FROM (EXCLUDED.inform_interval, EXCLUDED.debounce)
