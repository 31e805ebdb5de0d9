-- The live clients (Admin::list_clients): not stopped, with a heartbeat within $1, each
-- with whether it holds the leader's lease and how much work it holds now.
SELECT c.id, coalesce(c.hostname, ''), coalesce(c.pid, 0), c.started_at, c.heartbeat_at,
       coalesce(l.leader_id = c.id AND l.expires_at > now(), false),
       (SELECT count(*) FROM /* schema */delta_resource r
        WHERE r.state = 'pending' AND r.lease_owner = c.id),
       (SELECT count(*) FROM /* schema */delta_job j
        WHERE j.state = 'running' AND j.attempted_by = c.id),
       c.metadata
FROM /* schema */delta_client c
LEFT JOIN /* schema */delta_leader l ON l.name = 'default'
WHERE c.stopped_at IS NULL AND c.heartbeat_at > now() - $1::interval
ORDER BY c.started_at, c.id
