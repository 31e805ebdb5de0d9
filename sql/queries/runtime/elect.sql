-- Client $1 becomes (or stays) leader for $2 ms unless another leader's term is running;
-- returns a row when it leads.
INSERT INTO /* schema */delta_leader AS l (name, leader_id, elected_at, expires_at)
VALUES ('default', $1, coalesce($3::timestamptz, now()),
        coalesce($3::timestamptz, now()) + $2 * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET
  leader_id = EXCLUDED.leader_id,
  elected_at = CASE WHEN l.leader_id = EXCLUDED.leader_id THEN l.elected_at
                    ELSE EXCLUDED.elected_at END,
  expires_at = EXCLUDED.expires_at
WHERE l.leader_id = EXCLUDED.leader_id OR l.expires_at < EXCLUDED.elected_at
RETURNING leader_id
