-- The first statement of a limited claim (docs/flow-control.md): locks the rows of the
-- scopes $1 that have a limit in force, in name order (every claimer locks kinds first,
-- then its namespace, each in name order: no deadlock), and returns their limits and the
-- rate limiter's state. A claimer that waited for the lock reads the values the claimer
-- before it left. The statements after it, each with a snapshot taken once the lock is
-- held, see every claim committed before.
SELECT /* if kinds */s.kind/* end *//* if named */s.name/* end */, s.max_concurrency, s.rate_count,
       (extract(epoch FROM s.rate_per) * 1000)::bigint, s.rate_tat
FROM /* schema *//* if kinds */delta_controller/* end *//* if namespaces */delta_namespace/* end *//* if queues */delta_queue/* end */ s
WHERE /* if kinds */s.kind/* end *//* if named */s.name/* end */ = ANY($1::text[])
  AND (s.max_concurrency IS NOT NULL OR s.rate_count IS NOT NULL)
ORDER BY 1
FOR UPDATE OF s
