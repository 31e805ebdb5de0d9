-- The lag (Admin::status): how long the oldest resource and the oldest job that are due
-- but not claimed have waited since they were due, in milliseconds (NULL: none waits),
-- and the leader. The resources' oldest is found per registered kind, each one step down
-- the claim index (kind, priority, run_at, id) per priority class.
SELECT (SELECT extract(epoch FROM now() - min(oldest.run_at)) * 1000
        FROM /* schema */delta_controller k
        CROSS JOIN unnest('{0,1}'::smallint[]) AS p(priority)
        CROSS JOIN LATERAL (
          SELECT r.run_at FROM /* schema */delta_resource r
          WHERE r.kind = k.kind AND r.state IN ('scheduled', 'failed', 'expired')
            AND r.priority = p.priority AND r.run_at <= now()
          ORDER BY r.run_at
          LIMIT 1) oldest)::bigint,
       (SELECT extract(epoch FROM now() - min(j.scheduled_at)) * 1000
        FROM /* schema */delta_job j
        WHERE j.state = 'available' AND j.scheduled_at <= now())::bigint,
       (SELECT leader_id FROM /* schema */delta_leader
        WHERE name = 'default' AND expires_at > now())
