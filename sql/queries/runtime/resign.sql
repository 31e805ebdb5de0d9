WITH d AS (
  DELETE FROM /* schema */delta_leader WHERE name = 'default' AND leader_id = $1 RETURNING 1
)
SELECT (SELECT count(pg_notify($2, 'leader_resigned')) FROM d)
