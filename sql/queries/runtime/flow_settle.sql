-- The last statement of a limited claim: the rate limiter's state of scopes $1 after the
-- starts this claim took ($2: the earliest time of the next start).
UPDATE /* schema *//* if kinds */delta_controller/* end *//* if namespaces */delta_namespace/* end *//* if queues */delta_queue/* end */ s
SET rate_tat = u.tat
FROM unnest($1::text[], $2::timestamptz[]) AS u(name, tat)
WHERE /* if kinds */s.kind/* end *//* if named */s.name/* end */ = u.name
