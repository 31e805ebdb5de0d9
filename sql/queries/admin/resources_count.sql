-- How many resources a filter selects (Admin::count_resources, and the dry run of a bulk
-- action), grouped by kind ($12), namespace ($13) and state ($14) where asked.
SELECT CASE WHEN $12::boolean THEN r.kind END AS kind,
       CASE WHEN $13::boolean THEN r.namespace END AS namespace,
       CASE WHEN $14::boolean THEN r.state::text END AS state,
       count(*)
FROM /* schema */delta_resource r
WHERE /* include admin/_resource_filter */
/* if due_later */
  AND r.run_at > now()
/* end */
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
