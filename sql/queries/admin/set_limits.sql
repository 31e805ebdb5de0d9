-- Sets ($5 true) or clears ($5 false) the operator's override of the flow limits of scope
-- $1 (docs/flow-control.md): $2 concurrency, $3 and $4 rate count and interval in ms (NULL:
-- no limit). Returns the scope's name; no row: the scope is unknown (a queue is given its
-- row first: jobs/ensure_queues).
UPDATE /* schema *//* if kinds */delta_controller/* end *//* if namespaces */delta_namespace/* end *//* if queues */delta_queue/* end */ s
SET override_max_concurrency = CASE WHEN $5::boolean THEN $2::integer END,
    override_rate_count = CASE WHEN $5::boolean THEN $3::integer END,
    override_rate_per = CASE WHEN $5::boolean THEN $4::bigint * interval '1 millisecond' END,
    limits_overridden_at = CASE WHEN $5::boolean THEN now() END,
    updated_at = now()
WHERE /* if kinds */s.kind/* end *//* if named */s.name/* end */ = $1
RETURNING /* if kinds */s.kind/* end *//* if named */s.name/* end */
