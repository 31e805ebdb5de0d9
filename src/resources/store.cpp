#include "resources/store.hpp"

#include <fmt/format.h>

#include <delta/errors.hpp>

#include "common/digest.hpp"
#include "schema/migrations.hpp"
#include "schema/sql.hpp"

namespace delta::resources {

using internal::now_param;

namespace {

constexpr int kColumnCount = 21;
constexpr const char* kColumns =
    "id, kind, object_id, namespace, state::text, object, generation, attempt, max_attempts, "
    "run_at, attempted_at, synced_at, created_at, updated_at, external_created_at, deleted_at, "
    "lease_owner, lease_expires_at, metadata, tags, errors";

std::string_view finish_name(Finish outcome) {
  switch (outcome) {
    case Finish::synced:
      return "synced";
    case Finish::failed:
      return "failed";
    case Finish::deleted:
      return "deleted";
    case Finish::requeue:
      return "requeue";
    case Finish::release:
      return "release";
  }
  return "release";
}

InformStatus inform_status_from(std::string_view name) {
  if (name == "inserted") return InformStatus::inserted;
  if (name == "changed") return InformStatus::changed;
  if (name == "skipped_deleted") return InformStatus::skipped_deleted;
  return InformStatus::unchanged;
}

}  // namespace

ResourceStore::ResourceStore(const std::string& schema)
    : channel_(internal::channel_name(schema, "resources")) {
  const std::string prefix = internal::statement_prefix("dr", schema);
  auto make = [&](const char* name, const std::string& sql) {
    return internal::cached_statement(prefix + name, schema::render(sql, schema));
  };
  const std::string cols_r = internal::qualify_columns(kColumns, "r");
  const std::string cols_up = internal::qualify_columns(kColumns, "up");
  const std::string cols_e = internal::qualify_columns(kColumns, "e");

  // One upsert for a batch of objects of one kind. A row is written when it is new, its
  // content hash differs ($14: SHA-256 of the body, computed in the client), it is forced
  // ($10), or it is deleted and may be resurrected ($9). A changed row that is being
  // worked stays pending: the finish sees the new generation and schedules it again
  // instead of marking it synced. Two forms share these parts (see below).
  const std::string head = R"(
WITH c AS (SELECT {now} AS now),
input AS (
  SELECT t.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[],
                         $7::text[], $8::timestamptz[], $14::text[])
    WITH ORDINALITY AS t(object_id, namespace, body, metadata, max_attempts, tags,
                         external_created_at, hash, ord)
),)";
  const std::string insert = R"(
  INSERT INTO {{{{schema}}}}.delta_resource AS r
    (kind, object_id, namespace, state, object, hash, max_attempts, run_at, created_at,
     updated_at, external_created_at, metadata, tags)
  SELECT $1, i.object_id, i.namespace, 'scheduled', i.body::jsonb,
         decode(i.hash, 'hex'), i.max_attempts, c.now, c.now, c.now,
         i.external_created_at, i.metadata::jsonb, i.tags::text[])";
  const std::string upsert = R"(
  ON CONFLICT (kind, object_id) DO UPDATE SET
    object = EXCLUDED.object, hash = EXCLUDED.hash, generation = r.generation + 1,
    attempt = 0, errors = '{{}}',
    state = (CASE WHEN r.state = 'pending' THEN 'pending' ELSE 'scheduled' END)
              ::{{{{schema}}}}.resource_state,
    run_at = EXCLUDED.run_at, updated_at = EXCLUDED.updated_at,
    namespace = EXCLUDED.namespace, max_attempts = EXCLUDED.max_attempts,
    metadata = EXCLUDED.metadata, tags = EXCLUDED.tags,
    external_created_at = coalesce(EXCLUDED.external_created_at, r.external_created_at),
    deleted_at = NULL
  WHERE (r.state <> 'deleted' OR $9::boolean)
    AND (r.hash <> EXCLUDED.hash OR r.state = 'deleted' OR EXCLUDED.object_id = ANY($10::text[]))
  RETURNING (r.xmax = 0) AS inserted, {returning})";
  const std::string result = R"(
SELECT i.ord,
       CASE WHEN up.id IS NOT NULL THEN (CASE WHEN up.inserted THEN 'inserted' ELSE 'changed' END)
            WHEN e.state = 'deleted' THEN 'skipped_deleted'
            ELSE 'unchanged' END,
       (SELECT count(pg_notify($12, $1))
          FROM (SELECT 1 FROM up WHERE $13::boolean AND up.state <> 'pending' LIMIT 1) n)
       {extra}
FROM input i
LEFT JOIN up ON up.object_id = i.object_id)";
  // The stored row: one unique-index probe per input row (LIMIT keeps the planner from
  // turning the lookup into a hash join over the whole table).
  auto probe = [](std::string_view only_if) {
    return fmt::format(R"(
  SELECT * FROM {{{{{{{{schema}}}}}}}}.delta_resource e
  WHERE {}e.kind = $1 AND e.object_id = i.object_id
  LIMIT 1)",
                       only_if);
  };

  // Every row through ON CONFLICT. One lock order for every statement: concurrent informs
  // of overlapping ids (informer batches in flight together, inform_many from several
  // threads or processes) wait for each other instead of deadlocking. Runs inside
  // transactions, where an error would abort the caller's transaction.
  const std::string upsert_sql = head + R"(
up AS ()" + insert + R"(
  FROM input i, c
  ORDER BY i.object_id)" + upsert +
                                 R"(
))" + result + R"(
-- The stored row of what was not written.
LEFT JOIN LATERAL ()" + probe("up.id IS NULL AND ") +
                                 R"(
) e ON true
ORDER BY i.ord)";

  // Rows the statement's snapshot does not have are inserted plainly: ON CONFLICT costs a
  // new row a speculative insertion (a lock in the lock manager and a second WAL record),
  // ~4 ms per 1,000 new rows, more than the probe that tells them apart. Rows it has go
  // through ON CONFLICT (which finds them in its own probe and never inserts
  // speculatively). Lock order: stored rows first, then new ones, each in id order. A row
  // inserted by another transaction after the snapshot fails the plain insert (unique
  // violation, or a deadlock against an ON CONFLICT statement taking rows in the other
  // order): the whole statement then runs again as upsert_sql. Only for statements that
  // are their own transaction.
  const std::string split_sql = head + R"(
known AS MATERIALIZED (
  SELECT i.ord, {known} FROM input i CROSS JOIN LATERAL ()" +
                                probe("") + R"(
  ) e
),
stored AS ()" + insert + R"(
  FROM input i JOIN known k ON k.ord = i.ord, c
  ORDER BY i.object_id)" + upsert +
                                R"(
),
fresh AS ()" + insert + R"(
  FROM input i, c
  WHERE NOT EXISTS (SELECT 1 FROM known k WHERE k.ord = i.ord)
  ORDER BY i.object_id
  RETURNING true AS inserted, {returning}
),
up AS (SELECT * FROM stored UNION ALL SELECT * FROM fresh))" +
                                result + R"(
LEFT JOIN known e ON up.id IS NULL AND e.ord = i.ord
ORDER BY i.ord)";

  // A one-object inform runs its generic plan (internal::kGenericPlan): planning took
  // longer than running it.
  auto batch = [&](const std::string& name, const std::string& sql, bool full) {
    const std::string rendered = fmt::format(
        fmt::runtime(sql), fmt::arg("now", now_param(11)),
        fmt::arg("returning", full ? cols_r : "r.id, r.object_id, r.state::text AS state"),
        fmt::arg("extra", full ? ", " + cols_up + ", " + cols_e : std::string()),
        fmt::arg("known", full ? "e.*" : "e.state"));
    return internal::BatchStatement(prefix + name, schema::render(rendered, schema), true);
  };
  // Full: the rows after the inform. Brief: statuses only; the written rows keep just what
  // the statement itself reads of them.
  inform_full_ = batch("inform_full", upsert_sql, true);
  inform_brief_ = batch("inform_brief", upsert_sql, false);
  inform_full_split_ = batch("inform_full_split", split_sql, true);
  inform_brief_split_ = batch("inform_brief_split", split_sql, false);

  lock_objects_ = make("lock_objects", R"(
SELECT object_id, state::text, object FROM {{schema}}.delta_resource
WHERE kind = $1 AND object_id = ANY($2::text[])
ORDER BY object_id
FOR UPDATE)");

  // Per kind at most its free slots (LATERAL ... LIMIT), at most $4 in all; the outer
  // LIMIT stops the scan, so rows beyond it are never locked. The run_at bound is an
  // index condition (not a join with a CTE): rows scheduled later are never read. The
  // update finds the picked rows by their tuple ids (ctid = ANY of an array: a TID scan)
  // and each row's lease from its kind, so that the generic plan, which cannot know how
  // many rows the limits let through, has no join to misjudge (with `FROM picked`, it
  // hash-joined them with a sequential scan of the whole table: 53 ms instead of ~1 for 100
  // of 100,000 rows). A tuple id is stable here: the row is locked FOR UPDATE by this
  // statement. Unlike a primary-key lookup it reads no index page and no older version of
  // the row. (A row FOR UPDATE found updated after the snapshot is locked in its newest
  // version, which the update's snapshot does not see: that row is skipped this time and
  // stays runnable -- the same as a row another claimer holds.)
  // A kind's scan starts after its cursor ($8, $9: run_at and id; NULL: from the start),
  // an index condition: the btree is entered past the index entries of rows claimed since
  // the last vacuum, which a scan from the start reads through (killed, but still on their
  // pages: ~600 pages per 100,000 claimed rows). ClaimCursors says when a claim starts
  // from the beginning.
  claim_ = make("claim", fmt::format(R"(
WITH picked AS (
  SELECT p.ctid AS tid
  FROM unnest($1::text[], $2::integer[], $8::timestamptz[], $9::bigint[])
         AS k(kind, lim, after_run_at, after_id)
  CROSS JOIN LATERAL (
    SELECT r.ctid FROM {{{{schema}}}}.delta_resource r
    WHERE r.kind = k.kind AND r.state IN ('scheduled', 'failed', 'expired')
      AND r.run_at <= {now} AND r.namespace = $3
      AND (r.run_at, r.id) > (coalesce(k.after_run_at, '-infinity'), coalesce(k.after_id, 0))
    ORDER BY r.run_at, r.id
    LIMIT k.lim
    FOR UPDATE OF r SKIP LOCKED
  ) p
  LIMIT $4
)
UPDATE {{{{schema}}}}.delta_resource r
SET state = 'pending', attempt = r.attempt + 1, attempted_at = {now}, updated_at = {now},
    lease_owner = $6,
    lease_expires_at = (
      SELECT CASE WHEN k.lease_ms < 0 THEN 'infinity'::timestamptz
                  ELSE {now} + k.lease_ms * interval '1 millisecond' END
      FROM unnest($1::text[], $5::bigint[]) AS k(kind, lease_ms)
      WHERE k.kind = r.kind
      LIMIT 1)
WHERE r.ctid = ANY (ARRAY(SELECT tid FROM picked))
RETURNING {cols})",
                                     fmt::arg("now", now_param(7)), fmt::arg("cols", cols_r)));
  // The claim runs its generic plan (internal::kGenericPlan) and commits without waiting
  // for its WAL to reach the disk. A claim lost in a database crash (at most
  // 3 x wal_writer_delay after it) only makes its resources runnable again: their work
  // runs again, as after any lost lease -- delivery is at least once anyway -- and the
  // outcome's commit, durable, flushes the claim before it.
  claim_.local_settings = {internal::kGenericPlan, {"synchronous_commit", "off"}};

  const std::string pending = internal::per_row("'pending'::text", "$1::bigint[]");
  renew_leases_ = make("renew_leases",
                       fmt::format(R"(
UPDATE {{{{schema}}}}.delta_resource r
SET lease_expires_at = CASE WHEN u.lease_ms < 0 THEN 'infinity'::timestamptz
                            ELSE {now} + u.lease_ms * interval '1 millisecond' END
FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], {owner}, {pending})
       AS u(id, attempted_at, lease_ms, owner, pending)
WHERE r.id = u.id AND r.attempted_at = u.attempted_at AND r.lease_owner = u.owner
  AND r.state::text = u.pending  -- batch columns, not constants: see internal::per_row
RETURNING r.id)",
                                   fmt::arg("now", now_param(5)),
                                   fmt::arg("owner", internal::per_row("$4::text", "$1::bigint[]")),
                                   fmt::arg("pending", pending)));

  // The fence (lease owner + claim time + pending) makes a late outcome of a claim that
  // was rescued meanwhile a no-op. Owner and state are columns of the batch, not
  // constants (internal::per_row explains why).
  finish_ =
      make("finish", fmt::format(R"(
UPDATE {{{{schema}}}}.delta_resource r SET
  state = (CASE WHEN r.generation <> u.generation AND u.outcome <> 'release' THEN 'scheduled'
                WHEN u.outcome = 'synced' THEN 'synced'
                WHEN u.outcome = 'failed' THEN
                  CASE WHEN r.attempt >= r.max_attempts THEN 'degraded' ELSE 'failed' END
                WHEN u.outcome = 'deleted' THEN 'deleted'
                ELSE 'scheduled' END)::{{{{schema}}}}.resource_state,
  attempt = CASE WHEN u.outcome IN ('requeue', 'release') THEN greatest(r.attempt - 1, 0)
                 ELSE r.attempt END,
  run_at = CASE WHEN r.generation <> u.generation OR u.outcome = 'release' THEN c.now
                WHEN u.outcome IN ('failed', 'requeue')
                  THEN c.now + u.delay_ms * interval '1 millisecond'
                ELSE r.run_at END,
  synced_at = CASE WHEN r.generation = u.generation AND u.outcome = 'synced' THEN c.now
                   ELSE r.synced_at END,
  deleted_at = CASE WHEN r.generation = u.generation AND u.outcome = 'deleted' THEN c.now
                    ELSE r.deleted_at END,
  errors = CASE WHEN u.error IS NULL OR r.generation <> u.generation THEN r.errors
                ELSE (r.errors || u.error::jsonb)[greatest(cardinality(r.errors) - 18, 1):] END,
  lease_owner = NULL, lease_expires_at = NULL, updated_at = c.now
FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::text[], $5::bigint[],
            $6::text[], {owner}, {pending})
       AS u(id, attempted_at, generation, outcome, delay_ms, error, owner, pending),
     (SELECT {now} AS now) c
WHERE r.id = u.id AND r.attempted_at = u.attempted_at AND r.lease_owner = u.owner
  AND r.state::text = u.pending
RETURNING r.id, r.state::text)",
                                 fmt::arg("now", now_param(8)),
                                 fmt::arg("owner", internal::per_row("$7::text", "$1::bigint[]")),
                                 fmt::arg("pending", pending)));

  rescue_ = make("rescue", fmt::format(R"(
WITH c AS (SELECT {now} AS now),
stuck AS (
  SELECT r.id,
         CASE WHEN r.lease_expires_at < c.now
                THEN 'its lease expired at ' || r.lease_expires_at::text
              WHEN cl.id IS NULL THEN 'its client ' || r.lease_owner || ' is unknown'
              WHEN cl.stopped_at IS NOT NULL THEN 'its client ' || cl.id || ' stopped'
              ELSE 'its client ' || cl.id || ' stopped heartbeating' END AS reason
  FROM {{{{schema}}}}.delta_resource r
  CROSS JOIN c
  LEFT JOIN {{{{schema}}}}.delta_client cl ON cl.id = r.lease_owner
  WHERE r.state = 'pending'
    AND (r.lease_expires_at < c.now OR cl.id IS NULL OR cl.stopped_at IS NOT NULL
         OR cl.heartbeat_at < c.now - $1 * interval '1 millisecond')
  ORDER BY r.id
  LIMIT $2
  FOR UPDATE OF r SKIP LOCKED
)
UPDATE {{{{schema}}}}.delta_resource r SET
  state = (CASE WHEN r.attempt >= r.max_attempts THEN 'degraded' ELSE 'failed' END)
            ::{{{{schema}}}}.resource_state,
  run_at = c.now, updated_at = c.now, lease_owner = NULL, lease_expires_at = NULL,
  errors = (r.errors || jsonb_build_object('attempt', r.attempt, 'at', c.now::text,
                                           'error', 'rescued: ' || stuck.reason,
                                           'type', 'rescue'))
             [greatest(cardinality(r.errors) - 18, 1):]
FROM stuck, c
WHERE r.id = stuck.id
RETURNING stuck.reason, {cols})",
                                       fmt::arg("now", now_param(3)), fmt::arg("cols", cols_r)));

  get_ = make("get", fmt::format("SELECT {} FROM {{{{schema}}}}.delta_resource "
                                 "WHERE kind = $1 AND object_id = $2",
                                 kColumns));

  invalidate_ =
      make("invalidate", fmt::format(R"(
UPDATE {{{{schema}}}}.delta_resource r
SET state = 'expired', attempt = 0, run_at = {now}, updated_at = {now}
WHERE kind = $1 AND object_id = $2 AND state = 'synced'
RETURNING {cols})",
                                     fmt::arg("now", now_param(3)), fmt::arg("cols", cols_r)));

  retry_ = make("retry", fmt::format(R"(
UPDATE {{{{schema}}}}.delta_resource r
SET state = 'scheduled', attempt = 0, run_at = {now}, updated_at = {now}
WHERE kind = $1 AND object_id = $2 AND state IN ('failed', 'degraded')
RETURNING {cols})",
                                     fmt::arg("now", now_param(3)), fmt::arg("cols", cols_r)));

  known_kinds_ = make("known_kinds", "SELECT kind FROM {{schema}}.delta_controller");

  upsert_namespace_ = make("upsert_namespace", R"(
INSERT INTO {{schema}}.delta_namespace AS n
  (name, expiry_ttl, synced_retention, deleted_retention, degraded_retention)
VALUES ($1, $2::bigint * interval '1 millisecond', $3::bigint * interval '1 millisecond',
        $4::bigint * interval '1 millisecond', $5::bigint * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET
  expiry_ttl = EXCLUDED.expiry_ttl, synced_retention = EXCLUDED.synced_retention,
  deleted_retention = EXCLUDED.deleted_retention,
  degraded_retention = EXCLUDED.degraded_retention, updated_at = now()
WHERE (n.expiry_ttl, n.synced_retention, n.deleted_retention, n.degraded_retention)
  IS DISTINCT FROM (EXCLUDED.expiry_ttl, EXCLUDED.synced_retention, EXCLUDED.deleted_retention,
                    EXCLUDED.degraded_retention))");

  upsert_controller_ = make("upsert_controller", R"(
INSERT INTO {{schema}}.delta_controller AS k (kind, inform_interval)
VALUES ($1, $2::bigint * interval '1 millisecond')
ON CONFLICT (kind) DO UPDATE SET inform_interval = EXCLUDED.inform_interval, updated_at = now()
WHERE k.inform_interval IS DISTINCT FROM EXCLUDED.inform_interval)");
  prepare_maintenance(schema);
}

void ResourceStore::prepare_maintenance(const std::string& schema) {
  const std::string prefix = internal::statement_prefix("dr", schema);
  auto make = [&](const char* name, const std::string& sql) {
    return internal::cached_statement(prefix + name, schema::render(sql, schema));
  };
  begin_inform_ = make("begin_inform", fmt::format(R"(
UPDATE {{{{schema}}}}.delta_controller SET last_inform_started_at = {now}
WHERE kind = $1
RETURNING last_inform_time)",
                                                   fmt::arg("now", now_param(2))));
  end_inform_ = make("end_inform", fmt::format(R"(
UPDATE {{{{schema}}}}.delta_controller
SET last_inform_time = greatest(last_inform_time, $2::timestamptz),
    last_inform_finished_at = {now},
    last_inform_error = nullif($3, ''),
    updated_at = {now}
WHERE kind = $1)",
                                               fmt::arg("now", now_param(4))));
  disable_informs_ = make("disable_informs", R"(
UPDATE {{schema}}.delta_controller
SET inform_interval = NULL, last_inform_error = 'the controller has no informer', updated_at = now()
WHERE kind = $1)");
  due_informs_ = make("due_informs", fmt::format(R"(
SELECT kind, (extract(epoch FROM inform_interval) * 1000)::bigint
FROM {{{{schema}}}}.delta_controller
WHERE inform_interval IS NOT NULL
  AND coalesce(last_inform_started_at, '-infinity') + inform_interval <= {now}
ORDER BY kind
FOR UPDATE)",
                                                 fmt::arg("now", now_param(1))));
  // Per namespace, the oldest synced rows past its TTL: `synced_at < now - ttl` is a range
  // on the expiry index (namespace, synced_at), no arithmetic on the column.
  expire_ = make("expire", fmt::format(R"(
WITH c AS (SELECT {now} AS now),
due AS (
  SELECT e.id
  FROM {{{{schema}}}}.delta_namespace n CROSS JOIN c
  CROSS JOIN LATERAL (
    SELECT r.id FROM {{{{schema}}}}.delta_resource r
    WHERE r.state = 'synced' AND r.namespace = n.name AND r.synced_at < c.now - n.expiry_ttl
    ORDER BY r.synced_at
    LIMIT $1
    FOR UPDATE OF r SKIP LOCKED
  ) e
  WHERE n.expiry_ttl IS NOT NULL
  LIMIT $1
),
moved AS (
  UPDATE {{{{schema}}}}.delta_resource r
  SET state = 'expired', attempt = 0, run_at = c.now, updated_at = c.now
  FROM due, c
  WHERE r.id = due.id
  RETURNING r.kind
)
SELECT count(*), (SELECT count(pg_notify($3, k.kind)) FROM (SELECT DISTINCT kind FROM moved) k)
FROM moved)",
                                       fmt::arg("now", now_param(2))));
  // Rows past retention, per namespace and state, oldest first (the cleaner index on
  // (state, updated_at)).
  clean_ = make("clean", fmt::format(R"(
WITH c AS (SELECT {now} AS now),
doomed AS (
  SELECT d.id
  FROM {{{{schema}}}}.delta_namespace n CROSS JOIN c
  CROSS JOIN LATERAL (VALUES ('synced', n.synced_retention), ('deleted', n.deleted_retention),
                             ('degraded', n.degraded_retention)) AS p(state, retention)
  CROSS JOIN LATERAL (
    SELECT r.id FROM {{{{schema}}}}.delta_resource r
    -- The constant IN list lets the planner use the partial cleaner index.
    WHERE r.state IN ('synced', 'deleted', 'degraded')
      AND r.state = p.state::{{{{schema}}}}.resource_state AND r.namespace = n.name
      AND r.updated_at < c.now - p.retention
    ORDER BY r.updated_at
    LIMIT $1
    FOR UPDATE OF r SKIP LOCKED
  ) d
  WHERE p.retention IS NOT NULL
    AND NOT (p.state = 'synced' AND n.expiry_ttl IS NOT NULL)
  LIMIT $1
)
DELETE FROM {{{{schema}}}}.delta_resource r USING doomed WHERE r.id = doomed.id)",
                                     fmt::arg("now", now_param(2))));
}

std::optional<Timestamp> ResourceStore::begin_inform(pg::Connection& conn, const std::string& kind,
                                                     std::optional<Timestamp> now) {
  pg::Result result = conn.exec_prepared(begin_inform_, pg::Params(kind, now));
  if (result.empty()) return std::nullopt;
  return result[0].get<std::optional<Timestamp>>(0);
}

void ResourceStore::end_inform(pg::Connection& conn, const std::string& kind,
                               std::optional<Timestamp> cursor, const std::string& error,
                               std::optional<Timestamp> now) {
  conn.exec_prepared(end_inform_, pg::Params(kind, cursor, error, now));
}

void ResourceStore::disable_informs(pg::Connection& conn, const std::string& kind) {
  conn.exec_prepared(disable_informs_, pg::Params(kind));
}

std::vector<std::pair<std::string, std::int64_t>> ResourceStore::due_informs(
    pg::Connection& conn, std::optional<Timestamp> now) {
  pg::Result result = conn.exec_prepared(due_informs_, pg::Params(now));
  std::vector<std::pair<std::string, std::int64_t>> due;
  for (auto row : result)
    due.emplace_back(row.get<std::string>(0), row.get<std::int64_t>(1));
  return due;
}

std::int64_t ResourceStore::expire(pg::Connection& conn, int limit, std::optional<Timestamp> now) {
  return conn.exec_prepared(expire_, pg::Params(std::int32_t{limit}, now, channel_))
      .one()
      .get<std::int64_t>(0);
}

std::int64_t ResourceStore::clean(pg::Connection& conn, int limit, std::optional<Timestamp> now) {
  return conn.exec_prepared(clean_, pg::Params(std::int32_t{limit}, now)).affected_rows();
}

ResourceRow ResourceStore::parse_row(const pg::Row& row, int c) {
  ResourceRow r;
  r.id = row.get<std::int64_t>(c + 0);
  r.kind = row.get<std::string>(c + 1);
  r.object_id = row.get<std::string>(c + 2);
  r.namespace_name = row.get<std::string>(c + 3);
  r.state = resource_state_from_string(row.text(c + 4));
  r.object = row.get<nlohmann::json>(c + 5);
  r.generation = row.get<std::int64_t>(c + 6);
  r.attempt = row.get<std::int16_t>(c + 7);
  r.max_attempts = row.get<std::int16_t>(c + 8);
  r.run_at = row.get<Timestamp>(c + 9);
  r.attempted_at = row.get<std::optional<Timestamp>>(c + 10);
  r.synced_at = row.get<std::optional<Timestamp>>(c + 11);
  r.created_at = row.get<Timestamp>(c + 12);
  r.updated_at = row.get<Timestamp>(c + 13);
  r.external_created_at = row.get<std::optional<Timestamp>>(c + 14);
  r.deleted_at = row.get<std::optional<Timestamp>>(c + 15);
  r.lease_owner = row.get<std::optional<std::string>>(c + 16);
  r.lease_expires_at = row.get<std::optional<Timestamp>>(c + 17);
  r.metadata = row.get<nlohmann::json>(c + 18);
  r.tags = row.get<std::vector<std::string>>(c + 19);
  r.errors = internal::parse_attempt_errors(row.get<std::vector<nlohmann::json>>(c + 20));
  return r;
}

InformOutcomes ResourceStore::inform(pg::Connection& conn, std::string_view kind,
                                     std::span<const InformRow> rows, bool resurrect, bool full,
                                     bool notify, std::optional<Timestamp> now) {
  const std::size_t n = rows.size();
  std::vector<std::string> forced;
  for (const auto& row : rows) {
    if (row.force) forced.push_back(row.object_id);
  }
  // Each column goes straight from the rows into its array parameter. JSON travels as
  // text and is cast per row: a jsonb[] parameter costs Postgres ~10 µs per element to
  // read, a text[] one well under 1 µs plus the same parse in the cast.
  pg::Params params;
  params.reserve(14);
  params.add(std::string(kind))
      .add_array(rows, [](const InformRow& r) -> const std::string& { return r.object_id; })
      .add_array(rows, [](const InformRow& r) -> const std::string& { return r.namespace_name; })
      .add_array(rows, [](const InformRow& r) -> const std::string& { return r.body; })
      .add_array(rows, [](const InformRow& r) -> const std::string& { return r.metadata; })
      .add_array(rows, [](const InformRow& r) { return r.max_attempts; })
      .add_array(rows, [](const InformRow& r) { return internal::array_literal(r.tags); })
      .add_array(rows,
                 [](const InformRow& r) -> const std::optional<Timestamp>& {
                   return r.external_created_at;
                 })
      .add(resurrect)
      .add(forced)
      .add(now)
      .add(channel_)
      .add(notify)
      .add_array(rows, [](const InformRow& r) { return internal::sha256_hex(r.body); });
  const internal::BatchStatement& upsert = full ? inform_full_ : inform_brief_;
  pg::Result result;
  if (conn.in_transaction()) {
    result = conn.exec_prepared(upsert(n), params);
  } else {
    try {
      result = conn.exec_prepared((full ? inform_full_split_ : inform_brief_split_)(n), params);
    } catch (const DatabaseError& e) {
      // An object inserted by another transaction meanwhile (see split_sql).
      if (e.kind() != DatabaseErrorKind::unique_violation &&
          e.kind() != DatabaseErrorKind::retryable) {
        throw;
      }
      result = conn.exec_prepared(upsert(n), params);
    }
  }
  InformOutcomes outcomes;
  outcomes.status.resize(n, InformStatus::unchanged);
  if (full) outcomes.rows.resize(n);
  for (auto row : result) {
    auto index = static_cast<std::size_t>(row.get<std::int64_t>(0) - 1);
    outcomes.status.at(index) = inform_status_from(row.text(1));
    if (!full) continue;
    if (!row.is_null(3)) {
      outcomes.rows[index] = parse_row(row, 3);
    } else if (!row.is_null(3 + kColumnCount)) {
      outcomes.rows[index] = parse_row(row, 3 + kColumnCount);
    }
  }
  return outcomes;
}

std::vector<StoredObject> ResourceStore::lock_objects(pg::Connection& conn, std::string_view kind,
                                                      const std::vector<std::string>& ids) {
  pg::Result result = conn.exec_prepared(lock_objects_, pg::Params(std::string(kind), ids));
  std::vector<StoredObject> stored;
  stored.reserve(result.size());
  for (auto row : result) {
    stored.push_back({row.get<std::string>(0), resource_state_from_string(row.text(1)),
                      row.get<nlohmann::json>(2)});
  }
  return stored;
}

std::vector<ResourceRow> ResourceStore::claim(pg::Connection& conn, const std::string& ns,
                                              const std::vector<std::string>& kinds,
                                              const std::vector<std::int32_t>& limits,
                                              const std::vector<std::int64_t>& lease_ms, int limit,
                                              const std::string& client_id,
                                              std::optional<Timestamp> now,
                                              const std::vector<std::optional<ClaimKey>>& after) {
  std::vector<std::optional<Timestamp>> after_run_at(kinds.size());
  std::vector<std::optional<std::int64_t>> after_id(kinds.size());
  for (std::size_t i = 0; i < after.size() && i < kinds.size(); ++i) {
    if (!after[i]) continue;
    after_run_at[i] = after[i]->run_at;
    after_id[i] = after[i]->id;
  }
  pg::Result result =
      conn.exec_prepared(claim_, pg::Params(kinds, limits, ns, std::int32_t{limit}, lease_ms,
                                            client_id, now, after_run_at, after_id));
  std::vector<ResourceRow> rows;
  rows.reserve(result.size());
  for (auto row : result)
    rows.push_back(parse_row(row));
  std::sort(rows.begin(), rows.end(), [](const ResourceRow& a, const ResourceRow& b) {
    if (a.run_at != b.run_at) return a.run_at < b.run_at;
    return a.id < b.id;
  });
  return rows;
}

std::vector<std::int64_t> ResourceStore::renew_leases(pg::Connection& conn,
                                                      const std::vector<std::int64_t>& ids,
                                                      const std::vector<Timestamp>& attempted_at,
                                                      const std::vector<std::int64_t>& lease_ms,
                                                      const std::string& client_id,
                                                      std::optional<Timestamp> now) {
  pg::Result result =
      conn.exec_prepared(renew_leases_, pg::Params(ids, attempted_at, lease_ms, client_id, now));
  std::vector<std::int64_t> held;
  held.reserve(result.size());
  for (auto row : result)
    held.push_back(row.get<std::int64_t>(0));
  return held;
}

std::vector<Finished> ResourceStore::finish(pg::Connection& conn, std::span<const FinishRow> rows,
                                            const std::string& client_id,
                                            std::optional<Timestamp> now) {
  // Columns straight from the rows; errors as text (see inform).
  pg::Params params;
  params.reserve(8);
  params.add_array(rows, [](const FinishRow& r) { return r.id; })
      .add_array(rows, [](const FinishRow& r) { return r.attempted_at; })
      .add_array(rows, [](const FinishRow& r) { return r.generation; })
      .add_array(rows, [](const FinishRow& r) { return std::string_view(finish_name(r.outcome)); })
      .add_array(rows, [](const FinishRow& r) { return r.delay_ms; })
      .add_array(rows, [](const FinishRow& r) { return internal::json_text(r.error); })
      .add(client_id)
      .add(now);
  pg::Result result = conn.exec_prepared(finish_, params);
  std::vector<Finished> done;
  done.reserve(result.size());
  for (auto row : result)
    done.push_back({row.get<std::int64_t>(0), resource_state_from_string(row.text(1))});
  return done;
}

std::vector<std::pair<ResourceRow, std::string>> ResourceStore::rescue(
    pg::Connection& conn, std::int64_t client_ttl_ms, int limit, std::optional<Timestamp> now) {
  pg::Result result =
      conn.exec_prepared(rescue_, pg::Params(client_ttl_ms, std::int32_t{limit}, now));
  std::vector<std::pair<ResourceRow, std::string>> rescued;
  rescued.reserve(result.size());
  for (auto row : result)
    rescued.emplace_back(parse_row(row, 1), row.get<std::string>(0));
  return rescued;
}

namespace {
std::optional<ResourceRow> first_row(const pg::Result& result) {
  if (result.empty()) return std::nullopt;
  return ResourceStore::parse_row(result[0]);
}
}  // namespace

std::optional<ResourceRow> ResourceStore::get(pg::Connection& conn, std::string_view kind,
                                              std::string_view object_id) {
  return first_row(conn.exec_prepared(get_, pg::Params(std::string(kind), std::string(object_id))));
}

std::optional<ResourceRow> ResourceStore::invalidate(pg::Connection& conn, std::string_view kind,
                                                     std::string_view object_id,
                                                     std::optional<Timestamp> now) {
  return first_row(
      conn.exec_prepared(invalidate_, pg::Params(std::string(kind), std::string(object_id), now)));
}

std::optional<ResourceRow> ResourceStore::retry(pg::Connection& conn, std::string_view kind,
                                                std::string_view object_id,
                                                std::optional<Timestamp> now) {
  return first_row(
      conn.exec_prepared(retry_, pg::Params(std::string(kind), std::string(object_id), now)));
}

std::vector<std::string> ResourceStore::known_kinds(pg::Connection& conn) {
  pg::Result result = conn.exec_prepared(known_kinds_);
  std::vector<std::string> kinds;
  for (auto row : result)
    kinds.push_back(row.get<std::string>(0));
  return kinds;
}

void ResourceStore::upsert_namespace(pg::Connection& conn, const std::string& name,
                                     std::optional<std::int64_t> expiry_ms,
                                     std::optional<std::int64_t> synced_retention_ms,
                                     std::optional<std::int64_t> deleted_retention_ms,
                                     std::optional<std::int64_t> degraded_retention_ms) {
  conn.exec_prepared(upsert_namespace_, pg::Params(name, expiry_ms, synced_retention_ms,
                                                   deleted_retention_ms, degraded_retention_ms));
}

void ResourceStore::upsert_controller(pg::Connection& conn, const std::string& kind,
                                      std::optional<std::int64_t> inform_interval_ms) {
  conn.exec_prepared(upsert_controller_, pg::Params(kind, inform_interval_ms));
}

}  // namespace delta::resources
