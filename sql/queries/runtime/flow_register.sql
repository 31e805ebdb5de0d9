-- Flow limits of the scopes $1 of one table (kinds, namespaces or queues): where no
-- process registered limits yet, writes this process's defaults ($2 concurrency, $3 and
-- $4 rate count and interval in ms; NULL: none); then returns, for every scope in $1, the
-- limits in force, the stored defaults and whether an operator overrides them.
WITH code AS (
  SELECT * FROM unnest($1::text[], $2::integer[], $3::integer[], $4::bigint[])
           AS d(name, concurrency, rate_count, rate_per_ms)
), registered AS (
  UPDATE /* schema *//* if kinds */delta_controller/* end *//* if namespaces */delta_namespace/* end *//* if queues */delta_queue/* end */ s
  SET default_max_concurrency = d.concurrency, default_rate_count = d.rate_count,
      default_rate_per = d.rate_per_ms * interval '1 millisecond',
      limits_registered_at = now(), updated_at = now()
  FROM code d
  WHERE /* if kinds */s.kind/* end *//* if named */s.name/* end */ = d.name
    AND s.limits_registered_at IS NULL
  RETURNING /* if kinds */s.kind/* end *//* if named */s.name/* end */ AS name, s.max_concurrency,
            s.rate_count, s.rate_per, s.default_max_concurrency, s.default_rate_count,
            s.default_rate_per, s.limits_overridden_at IS NOT NULL AS overridden
), found AS (
  SELECT * FROM registered
  UNION ALL
  SELECT /* if kinds */s.kind/* end *//* if named */s.name/* end */, s.max_concurrency,
         s.rate_count, s.rate_per, s.default_max_concurrency, s.default_rate_count,
         s.default_rate_per, s.limits_overridden_at IS NOT NULL
  FROM /* schema *//* if kinds */delta_controller/* end *//* if namespaces */delta_namespace/* end *//* if queues */delta_queue/* end */ s
  WHERE /* if kinds */s.kind/* end *//* if named */s.name/* end */ = ANY($1::text[])
    AND /* if kinds */s.kind/* end *//* if named */s.name/* end */ NOT IN (SELECT name FROM registered)
)
SELECT name, max_concurrency, rate_count, (extract(epoch FROM rate_per) * 1000)::bigint,
       default_max_concurrency, default_rate_count,
       (extract(epoch FROM default_rate_per) * 1000)::bigint, overridden
FROM found
