-- A fragment, included by the admin statements over resources: the conditions of a
-- ResourceFilter over delta_resource r, $1..$11 in the order admin::resource_params binds
-- them. An empty array or NULL selects all; the statements run unprepared, so unused
-- conditions fold away when they are planned.
(cardinality($1::text[]) = 0 OR r.kind = ANY ($1::text[]))
  AND (cardinality($2::text[]) = 0 OR r.namespace = ANY ($2::text[]))
  AND (cardinality($3::text[]) = 0 OR r.state = ANY ($3::text[]::/* schema */resource_state[]))
  AND (cardinality($4::text[]) = 0 OR r.object_id = ANY ($4::text[]))
  AND ($5::text = '' OR starts_with(r.object_id, $5::text))
  AND (cardinality($6::text[]) = 0 OR r.tags && $6::text[])
  AND (cardinality($7::text[]) = 0 OR r.tags @> $7::text[])
  AND ($8::timestamptz IS NULL OR r.attempted_at >= $8::timestamptz)
  AND ($9::timestamptz IS NULL OR r.attempted_at < $9::timestamptz)
  AND ($10::timestamptz IS NULL OR r.synced_at >= $10::timestamptz)
  AND ($11::timestamptz IS NULL OR r.synced_at < $11::timestamptz)
