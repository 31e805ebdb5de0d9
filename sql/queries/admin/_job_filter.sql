-- A fragment, included by the admin statements over jobs: the conditions of a JobFilter
-- over delta_job j, $1..$4 in the order admin::job_params binds them.
(cardinality($1::text[]) = 0 OR j.queue = ANY ($1::text[]))
  AND (cardinality($2::text[]) = 0 OR j.kind = ANY ($2::text[]))
  AND (cardinality($3::text[]) = 0 OR j.state = ANY ($3::text[]::/* schema */job_state[]))
  AND (cardinality($4::bigint[]) = 0 OR j.id = ANY ($4::bigint[]))
