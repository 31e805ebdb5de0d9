-- The kinds whose periodic inform is due, locked, with their intervals in ms; a paused
-- kind's informs are not scheduled.
SELECT kind, (extract(epoch FROM inform_interval) * 1000)::bigint
FROM /* schema */delta_controller
WHERE inform_interval IS NOT NULL AND paused_at IS NULL
  AND coalesce(last_inform_started_at, '-infinity') + inform_interval <= coalesce($1::timestamptz, now())
ORDER BY kind
FOR UPDATE
