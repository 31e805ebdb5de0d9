#include "jobs/store.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <unordered_map>

#include <fmt/format.h>

#include "schema/migrations.hpp"
#include "schema/sql.hpp"

namespace delta::jobs {

using internal::channel_name;
using internal::now_param;

namespace {

constexpr const char* kColumns =
    "id, kind, queue, state::text, priority, args, metadata, tags, attempt, max_attempts, "
    "attempted_at, attempted_by, created_at, scheduled_at, finalized_at, errors";

// The state an outcome really leads to: a job whose cancellation was requested while
// it ran ends cancelled unless it completed or was discarded anyway.
constexpr const char* kEffectiveState =
    "(CASE WHEN j.metadata ? 'cancel_requested_at' AND u.state NOT IN ('completed', "
    "'discarded') THEN 'cancelled' ELSE u.state END)";

// A JobRow for an inserted `job` from the columns id, state, created_at, scheduled_at
// starting at `first`. Only what the database decided comes back; the rest is what was
// sent (the statements store it as given), which spares formatting and parsing every
// row's JSON twice.
void fill_inserted(const JobInsert& job, const pg::Row& row, int first, JobRow& out) {
  out.id = row.get<std::int64_t>(first);
  out.kind = job.kind;
  out.queue = job.opts.queue;
  out.state = job_state_from_string(row.text(first + 1));
  out.priority = job.opts.priority;
  out.args = job.args;
  out.metadata = job.opts.metadata;
  out.tags = job.opts.tags;
  out.max_attempts = job.opts.max_attempts;
  out.created_at = row.get<Timestamp>(first + 2);
  out.scheduled_at = row.get<Timestamp>(first + 3);
}

// Whether any job of the batch is unique (has a unique key: see unique_key_source).
bool any_unique(std::span<const JobInsert> jobs) {
  return std::any_of(jobs.begin(), jobs.end(),
                     [](const JobInsert& job) { return job.opts.unique.enabled(); });
}

// The columns of a batch insert ($1-$8), straight from the jobs into array parameters.
pg::Params column_params(std::span<const JobInsert> jobs) {
  pg::Params params;
  params.reserve(13);
  params.add_array(jobs, [](const JobInsert& j) -> const std::string& { return j.kind; })
      .add_array(jobs, [](const JobInsert& j) -> const std::string& { return j.opts.queue; })
      .add_array(jobs,
                 [](const JobInsert& j) { return static_cast<std::int16_t>(j.opts.priority); })
      // JSON as text, cast per row: see ResourceStore::inform.
      .add_array(jobs, [](const JobInsert& j) { return j.args.dump(); })
      .add_array(jobs, [](const JobInsert& j) { return j.opts.metadata.dump(); })
      .add_array(jobs, [](const JobInsert& j) { return internal::array_literal(j.opts.tags); })
      .add_array(jobs,
                 [](const JobInsert& j) { return static_cast<std::int16_t>(j.opts.max_attempts); })
      .add_array(jobs, [](const JobInsert& j) -> const std::optional<Timestamp>& {
        return j.opts.scheduled_at;
      });
  return params;
}

// The results of the plain batch insert of `jobs` (one row per job, in input order).
std::vector<InsertResult> read_plain(const pg::Result& result, std::span<const JobInsert> jobs) {
  if (result.size() != jobs.size()) {
    throw Error(fmt::format("inserting {} jobs returned {} rows", jobs.size(), result.size()));
  }
  std::vector<InsertResult> results(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    fill_inserted(jobs[i], result[i], 1, results[i].job);
  }
  return results;
}

}  // namespace

JobStore::JobStore(const std::string& schema)
    : schema_(schema),
      jobs_channel_(channel_name(schema, "jobs")),
      control_channel_(channel_name(schema, "control")) {
  const std::string prefix = internal::statement_prefix("dj", schema);
  auto make = [&](const char* name, const std::string& sql) {
    return internal::cached_statement(prefix + name, schema::render(sql, schema));
  };
  const std::string returning_j = internal::qualify_columns(kColumns, "j");

  insert_ = internal::BatchStatement(prefix + "insert",
                                     schema::render(fmt::format(R"(
WITH input AS MATERIALIZED (
  SELECT nextval('{{{{schema}}}}.delta_job_id_seq') AS id, t.kind, t.queue, t.priority,
         t.args::jsonb AS args, t.metadata::jsonb AS metadata, t.tags::text[] AS tags, t.max_attempts,
         coalesce(t.scheduled_at, c.now) AS scheduled_at, c.now,
         CASE WHEN t.unique_key IS NULL THEN NULL
              ELSE sha256(convert_to(t.unique_key, 'UTF8')) END AS unique_key,
         t.unique_states, t.ord
  FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[],
              $7::smallint[], $8::timestamptz[], $9::text[], $10::smallint[])
         WITH ORDINALITY AS t(kind, queue, priority, args, metadata, tags, max_attempts,
                              scheduled_at, unique_key, unique_states, ord),
       (SELECT {now} AS now) c
  ORDER BY t.ord
), inserted AS (
  INSERT INTO {{{{schema}}}}.delta_job AS j
    (id, kind, queue, state, priority, args, metadata, tags, max_attempts, created_at,
     scheduled_at, unique_key, unique_states)
  OVERRIDING SYSTEM VALUE
  SELECT id, kind, queue,
         (CASE WHEN scheduled_at > now THEN 'scheduled' ELSE 'available' END)::{{{{schema}}}}.job_state,
         priority, args, metadata, tags, max_attempts, now, scheduled_at, unique_key,
         unique_states
  FROM input ORDER BY ord
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND unique_states IS NOT NULL
    AND {{{{schema}}}}.job_state_in_bitmask(unique_states, state)
  DO NOTHING
  RETURNING j.id, j.queue, j.state, j.created_at, j.scheduled_at
)
SELECT input.ord, encode(input.unique_key, 'hex'),
       (SELECT count(pg_notify($12, q.queue))
          FROM (SELECT DISTINCT queue FROM inserted WHERE $13::boolean AND state = 'available') q),
       inserted.id, inserted.state::text, inserted.created_at, inserted.scheduled_at
FROM input LEFT JOIN inserted ON inserted.id = input.id
ORDER BY input.ord)",
                                                                fmt::arg("now", now_param(11))),
                                                    schema));

  // A batch without unique jobs: no ON CONFLICT, whose speculative insertion costs every
  // row an arbiter-index check and an extra WAL record, and no join back to the input.
  // The rows come back in input order: INSERT ... SELECT ... ORDER BY inserts in the
  // select's order and RETURNING yields each row as it is inserted (the result is checked
  // for the right count; Postgres has kept this order in every release, and too much
  // code depends on it for that to change).
  insert_plain_ = internal::BatchStatement(
      prefix + "insert_plain", schema::render(fmt::format(R"(
WITH c AS (SELECT {now} AS now), inserted AS (
  INSERT INTO {{{{schema}}}}.delta_job AS j
    (kind, queue, state, priority, args, metadata, tags, max_attempts, created_at, scheduled_at)
  SELECT t.kind, t.queue,
         (CASE WHEN t.scheduled_at > c.now THEN 'scheduled' ELSE 'available' END)::{{{{schema}}}}.job_state,
         t.priority, t.args::jsonb, t.metadata::jsonb, t.tags::text[], t.max_attempts, c.now,
         coalesce(t.scheduled_at, c.now)
  FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[],
              $7::smallint[], $8::timestamptz[])
         WITH ORDINALITY AS t(kind, queue, priority, args, metadata, tags, max_attempts,
                              scheduled_at, ord),
       c
  ORDER BY t.ord
  RETURNING j.id, j.queue, j.state, j.created_at, j.scheduled_at
)
SELECT (SELECT count(pg_notify($10, q.queue))
          FROM (SELECT DISTINCT queue FROM inserted WHERE $11::boolean AND state = 'available') q),
       id, state::text, created_at, scheduled_at
FROM inserted)",
                                                          fmt::arg("now", now_param(9))),
                                              schema));

  // One job that is not unique: a plain INSERT ... VALUES, without the batch machinery.
  insert_one_ =
      make("insert_one", fmt::format(R"(
WITH c AS (SELECT {now} AS now), inserted AS (
  INSERT INTO {{{{schema}}}}.delta_job AS j
    (kind, queue, state, priority, args, metadata, tags, max_attempts, created_at, scheduled_at)
  SELECT $1, $2,
         (CASE WHEN $8::timestamptz > c.now THEN 'scheduled' ELSE 'available' END)::{{{{schema}}}}.job_state,
         $3, $4, $5, $6, $7, c.now, coalesce($8::timestamptz, c.now)
  FROM c
  RETURNING {cols}
)
SELECT (SELECT count(pg_notify($10, i.queue)) FROM inserted i WHERE $11::boolean AND i.state = 'available'),
       inserted.*
FROM inserted)",
                                     fmt::arg("now", now_param(9)), fmt::arg("cols", returning_j)));

  lookup_unique_ = make("lookup_unique", fmt::format(R"(
SELECT encode(unique_key, 'hex'), {cols} FROM {{{{schema}}}}.delta_job
WHERE unique_key = ANY(ARRAY(SELECT decode(k, 'hex') FROM unnest($1::text[]) k))
  AND unique_states IS NOT NULL AND {{{{schema}}}}.job_state_in_bitmask(unique_states, state))",
                                                     fmt::arg("cols", kColumns)));

  // The scan starts after the cursor ($7-$9: priority, scheduled_at, id; NULL: from the
  // beginning), an index condition: see internal::ScanCursors.
  fetch_ = make("fetch", fmt::format(R"(
WITH picked AS (
  SELECT id FROM {{{{schema}}}}.delta_job
  WHERE state = 'available' AND queue = $1 AND kind = ANY($2::text[])
    AND (priority, scheduled_at, id) > (coalesce($7::smallint, 0),
                                        coalesce($8::timestamptz, '-infinity'),
                                        coalesce($9::bigint, 0))
    AND NOT EXISTS (SELECT 1 FROM {{{{schema}}}}.delta_queue q
                    WHERE q.name = $1 AND q.paused_at IS NOT NULL)
  ORDER BY priority, scheduled_at, id
  LIMIT $4
  FOR UPDATE SKIP LOCKED
)
UPDATE {{{{schema}}}}.delta_job j
SET state = 'running', attempt = j.attempt + 1, attempted_at = {now}, attempted_by = $5,
    timeout_at = CASE WHEN t.ms < 0 THEN NULL ELSE {now} + t.ms * interval '1 millisecond' END
FROM picked, unnest($2::text[], $3::bigint[]) AS t(kind, ms)
WHERE j.id = picked.id AND t.kind = j.kind
RETURNING {cols})",
                                     fmt::arg("now", now_param(6)), fmt::arg("cols", returning_j)));
  // A fetch commits without waiting for its WAL to reach the disk: one lost in a
  // database crash leaves its jobs available, to run again (jobs run at least once), and
  // the durable commit of their outcome flushes the fetch before it.
  fetch_.local_settings = {{"synchronous_commit", "off"}};

  complete_ =
      make("complete",
           fmt::format(R"(
UPDATE {{{{schema}}}}.delta_job j SET
  state = {state}::{{{{schema}}}}.job_state,
  attempt = CASE WHEN u.give_back AND {state} <> 'cancelled' THEN greatest(j.attempt - 1, 0)
                 ELSE j.attempt END,
  scheduled_at = CASE WHEN u.delay_ms IS NULL OR {state} = 'cancelled' THEN j.scheduled_at
                      ELSE {now} + u.delay_ms * interval '1 millisecond' END,
  finalized_at = CASE WHEN {state} IN ('completed', 'cancelled', 'discarded') THEN {now} END,
  errors = CASE WHEN u.error IS NULL THEN j.errors
                ELSE (j.errors || u.error::jsonb)[greatest(cardinality(j.errors) - 18, 1):] END,
  timeout_at = NULL
FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::text[], $5::bigint[], $6::boolean[],
            $7::text[], {running})
       AS u(id, attempt, attempted_by, state, delay_ms, give_back, error, running)
WHERE j.id = u.id AND j.attempt = u.attempt
  AND j.attempted_by = u.attempted_by
  AND j.state::text = u.running  -- a batch column, not a constant: see internal::per_row
RETURNING j.id, j.state::text)",
                       fmt::arg("state", kEffectiveState), fmt::arg("now", now_param(8)),
                       fmt::arg("running", internal::per_row("'running'::text", "$1::bigint[]"))));

  schedule_ = make("schedule", fmt::format(R"(
WITH due AS (
  SELECT id FROM {{{{schema}}}}.delta_job
  WHERE state IN ('scheduled', 'retryable') AND scheduled_at <= {now}
  ORDER BY scheduled_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED
), moved AS (
  UPDATE {{{{schema}}}}.delta_job j SET state = 'available' FROM due WHERE j.id = due.id
  RETURNING j.queue
)
SELECT count(*), (SELECT count(pg_notify($3, q.queue)) FROM (SELECT DISTINCT queue FROM moved) q)
FROM moved)",
                                           fmt::arg("now", now_param(2))));

  lock_stuck_ =
      make("lock_stuck", fmt::format(R"(
SELECT CASE WHEN c.id IS NULL THEN 'its client ' || coalesce(j.attempted_by, '?') || ' is unknown'
            WHEN c.stopped_at IS NOT NULL THEN 'its client ' || c.id || ' stopped'
            WHEN c.heartbeat_at < {now} - $1 * interval '1 millisecond'
              THEN 'its client ' || c.id || ' stopped heartbeating'
            ELSE 'it ran past its timeout' END,
       {cols}
FROM {{{{schema}}}}.delta_job j
LEFT JOIN {{{{schema}}}}.delta_client c ON c.id = j.attempted_by
WHERE j.state = 'running'
  AND (c.id IS NULL OR c.stopped_at IS NOT NULL
       OR c.heartbeat_at < {now} - $1 * interval '1 millisecond'
       OR j.timeout_at < {now} - $2 * interval '1 millisecond')
ORDER BY j.id
LIMIT $3
FOR UPDATE OF j SKIP LOCKED)",
                                     fmt::arg("now", now_param(4)), fmt::arg("cols", returning_j)));

  rescue_ = make("rescue",
                 fmt::format(R"(
WITH r AS (
  UPDATE {{{{schema}}}}.delta_job j SET
    state = {state}::{{{{schema}}}}.job_state,
    scheduled_at = CASE WHEN {state} IN ('discarded', 'cancelled') THEN j.scheduled_at
                        ELSE {now} + u.delay_ms * interval '1 millisecond' END,
    finalized_at = CASE WHEN {state} IN ('discarded', 'cancelled') THEN {now} END,
    errors = (j.errors || u.error::jsonb)[greatest(cardinality(j.errors) - 18, 1):],
    timeout_at = NULL
  FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::bigint[], $5::text[])
         AS u(id, attempt, state, delay_ms, error)
  WHERE j.id = u.id AND j.attempt = u.attempt
    AND j.state::text = 'running'  -- not the partial index on running jobs: see complete
  RETURNING j.id
)
SELECT count(*) FROM r)",
                             fmt::arg("state", kEffectiveState), fmt::arg("now", now_param(6))));

  clean_ = make("clean", fmt::format(R"(
WITH doomed AS (
  SELECT id FROM {{{{schema}}}}.delta_job
  WHERE (state = 'completed' AND finalized_at < {now} - $1 * interval '1 millisecond')
     OR (state = 'cancelled' AND finalized_at < {now} - $2 * interval '1 millisecond')
     OR (state = 'discarded' AND finalized_at < {now} - $3 * interval '1 millisecond')
  LIMIT $4
  FOR UPDATE SKIP LOCKED
)
DELETE FROM {{{{schema}}}}.delta_job j USING doomed WHERE j.id = doomed.id)",
                                     fmt::arg("now", now_param(5))));

  release_ = make("release", fmt::format(R"(
WITH r AS (
  UPDATE {{{{schema}}}}.delta_job
  SET state = CASE WHEN metadata ? 'cancel_requested_at' THEN 'cancelled'
                   ELSE 'available' END::{{{{schema}}}}.job_state,
      finalized_at = CASE WHEN metadata ? 'cancel_requested_at' THEN {now} END,
      attempt = CASE WHEN metadata ? 'cancel_requested_at' THEN attempt
                     ELSE greatest(attempt - 1, 0) END,
      scheduled_at = {now}, timeout_at = NULL
  WHERE id = ANY($1::bigint[]) AND state = 'running' AND attempted_by = $2
  RETURNING queue
)
SELECT count(*), (SELECT count(pg_notify($4, q.queue)) FROM (SELECT DISTINCT queue FROM r) q)
FROM r)",
                                         fmt::arg("now", now_param(3))));

  get_ =
      make("get", fmt::format("SELECT {} FROM {{{{schema}}}}.delta_job WHERE id = $1", kColumns));

  cancel_ =
      make("cancel", fmt::format(R"(
WITH c AS (
  UPDATE {{{{schema}}}}.delta_job j SET
    state = CASE WHEN j.state IN ('available', 'scheduled', 'retryable') THEN 'cancelled'
                 ELSE j.state END,
    finalized_at = CASE WHEN j.state IN ('available', 'scheduled', 'retryable') THEN {now}
                        ELSE j.finalized_at END,
    metadata = CASE WHEN j.state = 'running'
                    THEN j.metadata || jsonb_build_object('cancel_requested_at', {now})
                    ELSE j.metadata END
  WHERE j.id = $1
  RETURNING {cols}
)
SELECT c.*, (SELECT count(pg_notify($3, 'cancel:' || c.id)) FROM c WHERE c.state = 'running')
FROM c)",
                                 fmt::arg("now", now_param(2)), fmt::arg("cols", returning_j)));

  retry_ = make("retry", fmt::format(R"(
WITH r AS (
  UPDATE {{{{schema}}}}.delta_job j SET
    state = 'available', scheduled_at = {now}, finalized_at = NULL,
    max_attempts = CASE WHEN j.attempt >= j.max_attempts THEN j.attempt + 1 ELSE j.max_attempts END,
    metadata = j.metadata - 'cancel_requested_at'
  WHERE j.id = $1 AND j.state <> 'running'
  RETURNING {cols}
)
SELECT r.*, (SELECT count(pg_notify($3, r.queue)) FROM r) FROM r)",
                                     fmt::arg("now", now_param(2)), fmt::arg("cols", returning_j)));

  pause_ = make("pause", fmt::format(R"(
INSERT INTO {{{{schema}}}}.delta_queue AS q (name, paused_at, updated_at)
VALUES ($1, CASE WHEN $2::boolean THEN {now} END, {now})
ON CONFLICT (name) DO UPDATE SET paused_at = EXCLUDED.paused_at, updated_at = EXCLUDED.updated_at)",
                                     fmt::arg("now", now_param(3))));

  heartbeat_ = make("heartbeat", fmt::format(R"(
INSERT INTO {{{{schema}}}}.delta_client AS c (id, hostname, pid, started_at, heartbeat_at, metadata)
VALUES ($1, $2, $3, {now}, {now}, $4)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = NULL,
                               metadata = EXCLUDED.metadata)",
                                             fmt::arg("now", now_param(5))));

  stopped_ = make(
      "stopped", fmt::format("UPDATE {{{{schema}}}}.delta_client SET stopped_at = {} WHERE id = $1",
                             now_param(2)));

  prune_clients_ = make("prune_clients", fmt::format(R"(
DELETE FROM {{{{schema}}}}.delta_client c
WHERE c.heartbeat_at < {now} - $1 * interval '1 millisecond'
  AND NOT EXISTS (SELECT 1 FROM {{{{schema}}}}.delta_job j
                  WHERE j.state = 'running' AND j.attempted_by = c.id))",
                                                     fmt::arg("now", now_param(2))));

  elect_ = make("elect", fmt::format(R"(
INSERT INTO {{{{schema}}}}.delta_leader AS l (name, leader_id, elected_at, expires_at)
VALUES ('default', $1, {now}, {now} + $2 * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET
  leader_id = EXCLUDED.leader_id,
  elected_at = CASE WHEN l.leader_id = EXCLUDED.leader_id THEN l.elected_at
                    ELSE EXCLUDED.elected_at END,
  expires_at = EXCLUDED.expires_at
WHERE l.leader_id = EXCLUDED.leader_id OR l.expires_at < EXCLUDED.elected_at
RETURNING leader_id)",
                                     fmt::arg("now", now_param(3))));

  resign_ = make("resign", R"(
WITH d AS (
  DELETE FROM {{schema}}.delta_leader WHERE name = 'default' AND leader_id = $1 RETURNING 1
)
SELECT (SELECT count(pg_notify($2, 'leader_resigned')) FROM d))");

  ensure_periodic_ = make("ensure_periodic", fmt::format(R"(
INSERT INTO {{{{schema}}}}.delta_periodic_job (name, next_run_at, updated_at)
VALUES ($1, CASE WHEN $3::boolean THEN {now} ELSE {now} + $2 * interval '1 millisecond' END, {now})
ON CONFLICT (name) DO NOTHING)",
                                                         fmt::arg("now", now_param(4))));

  claim_periodic_ = make("claim_periodic", fmt::format(R"(
UPDATE {{{{schema}}}}.delta_periodic_job SET
  last_run_at = {now},
  next_run_at = next_run_at + ($2::bigint * (floor(extract(epoch FROM ({now} - next_run_at)) * 1000
                                                   / $2::bigint) + 1))::float8
                              * interval '1 millisecond',
  updated_at = {now}
WHERE name = $1 AND next_run_at <= {now}
RETURNING name)",
                                                       fmt::arg("now", now_param(3))));

  notify_ = make("notify", "SELECT pg_notify($1, $2)");
}

JobRow JobStore::parse_row(const pg::Row& row, int c) {
  JobRow job;
  job.id = row.get<std::int64_t>(c + 0);
  job.kind = row.get<std::string>(c + 1);
  job.queue = row.get<std::string>(c + 2);
  job.state = job_state_from_string(row.text(c + 3));
  job.priority = row.get<std::int16_t>(c + 4);
  job.args = row.get<nlohmann::json>(c + 5);
  job.metadata = row.get<nlohmann::json>(c + 6);
  job.tags = row.get<std::vector<std::string>>(c + 7);
  job.attempt = row.get<std::int16_t>(c + 8);
  job.max_attempts = row.get<std::int16_t>(c + 9);
  job.attempted_at = row.get<std::optional<Timestamp>>(c + 10);
  job.attempted_by = row.get<std::optional<std::string>>(c + 11);
  job.created_at = row.get<Timestamp>(c + 12);
  job.scheduled_at = row.get<Timestamp>(c + 13);
  job.finalized_at = row.get<std::optional<Timestamp>>(c + 14);
  job.errors = internal::parse_attempt_errors(row.get<std::vector<nlohmann::json>>(c + 15));
  return job;
}

std::int16_t unique_states_mask(const UniqueOpts& opts) {
  if (opts.by_state.empty()) {
    // Every state but cancelled and discarded.
    return static_cast<std::int16_t>(0b0011111);
  }
  int mask = 0;
  for (JobState state : opts.by_state)
    mask |= 1 << static_cast<int>(state);
  return static_cast<std::int16_t>(mask);
}

std::string unique_key_source(const JobInsert& job, std::optional<Timestamp> now) {
  const UniqueOpts& unique = job.opts.unique;
  if (!unique.enabled()) return {};
  std::string key = "kind=" + job.kind;
  if (unique.by_args) key += "|args=" + job.args.dump();
  if (unique.by_queue) key += "|queue=" + job.opts.queue;
  if (unique.by_period.count() > 0) {
    Timestamp at = job.opts.scheduled_at.value_or(now.value_or(delta::now()));
    auto period = std::chrono::duration_cast<std::chrono::microseconds>(unique.by_period);
    auto bucket = at.time_since_epoch().count() / period.count();
    key += fmt::format("|period={}@{}", period.count(), bucket);
  }
  return key;
}

std::vector<InsertResult> JobStore::insert(pg::Connection& conn, std::span<const JobInsert> jobs,
                                           std::optional<Timestamp> now, bool notify) {
  if (jobs.size() <= kInsertChunk) return insert_chunk(conn, jobs, now, notify);
  std::vector<InsertResult> results;
  results.reserve(jobs.size());
  if (!any_unique(jobs)) {
    // Pipelined, two statements in flight: the client encodes the next chunk and reads
    // the last one's results while the server runs the current one.
    const std::size_t chunks = (jobs.size() + kInsertChunk - 1) / kInsertChunk;
    auto chunk = [&](std::size_t i) {
      return jobs.subspan(i * kInsertChunk, std::min(kInsertChunk, jobs.size() - i * kInsertChunk));
    };
    pg::Pipeline pipeline(conn);
    std::size_t sent = 0;
    for (std::size_t received = 0; received < chunks; ++received) {
      for (; sent < chunks && sent - received < 2; ++sent) {
        pg::Params params = column_params(chunk(sent));
        params.add(now).add(jobs_channel_).add(notify);
        pipeline.send(insert_plain_.large.sql, params);
      }
      auto part = read_plain(pipeline.receive(), chunk(received));
      std::move(part.begin(), part.end(), std::back_inserter(results));
    }
    return results;
  }
  for (std::size_t offset = 0; offset < jobs.size(); offset += kInsertChunk) {
    auto part = insert_chunk(
        conn, jobs.subspan(offset, std::min(kInsertChunk, jobs.size() - offset)), now, notify);
    std::move(part.begin(), part.end(), std::back_inserter(results));
  }
  return results;
}

std::vector<InsertResult> JobStore::insert_chunk(pg::Connection& conn,
                                                 std::span<const JobInsert> jobs,
                                                 std::optional<Timestamp> now, bool notify) {
  if (jobs.size() == 1 && !jobs.front().opts.unique.enabled()) {
    const JobInsert& job = jobs.front();
    pg::Result result = conn.exec_prepared(
        insert_one_,
        pg::Params(job.kind, job.opts.queue, static_cast<std::int16_t>(job.opts.priority), job.args,
                   job.opts.metadata, job.opts.tags,
                   static_cast<std::int16_t>(job.opts.max_attempts), job.opts.scheduled_at, now,
                   jobs_channel_, notify));
    return {InsertResult{parse_row(result.one(), 1), false}};
  }
  const std::size_t n = jobs.size();
  pg::Params params = column_params(jobs);
  if (!any_unique(jobs)) {
    params.add(now).add(jobs_channel_).add(notify);
    return read_plain(conn.exec_prepared(insert_plain_(n), params), jobs);
  }
  std::vector<std::optional<std::string>> keys(n);
  std::vector<std::optional<std::int16_t>> masks(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!jobs[i].opts.unique.enabled()) continue;
    keys[i] = unique_key_source(jobs[i], now);
    masks[i] = unique_states_mask(jobs[i].opts.unique);
  }
  params.add(keys).add(masks).add(now).add(jobs_channel_).add(notify);
  pg::Result result = conn.exec_prepared(insert_(n), params);

  std::vector<InsertResult> results(n);
  std::vector<std::string> missing_keys;
  std::vector<std::size_t> missing_index;
  for (auto row : result) {
    auto index = static_cast<std::size_t>(row.get<std::int64_t>(0) - 1);
    if (row.is_null(3)) {
      missing_keys.push_back(row.get<std::string>(1));
      missing_index.push_back(index);
      results[index].unique_skipped_as_duplicate = true;
    } else {
      fill_inserted(jobs[index], row, 3, results[index].job);
    }
  }
  if (!missing_keys.empty()) {
    pg::Result existing = conn.exec_prepared(lookup_unique_, pg::Params(missing_keys));
    std::unordered_map<std::string, JobRow> by_key;
    for (auto row : existing)
      by_key.emplace(row.get<std::string>(0), parse_row(row, 1));
    for (std::size_t i = 0; i < missing_keys.size(); ++i) {
      auto found = by_key.find(missing_keys[i]);
      if (found != by_key.end()) results[missing_index[i]].job = found->second;
      // else: the blocking job left the unique states between the two statements; the
      // result still reports the duplicate, with an empty row.
    }
  }
  return results;
}

std::vector<JobRow> JobStore::fetch(pg::Connection& conn, const std::string& queue,
                                    const std::vector<std::string>& kinds,
                                    const std::vector<std::int64_t>& timeouts_ms, int limit,
                                    const std::string& client_id, std::optional<Timestamp> now,
                                    const std::optional<FetchKey>& after) {
  std::optional<std::int16_t> after_priority;
  std::optional<Timestamp> after_scheduled_at;
  std::optional<std::int64_t> after_id;
  if (after) {
    after_priority = static_cast<std::int16_t>(after->priority);
    after_scheduled_at = after->scheduled_at;
    after_id = after->id;
  }
  pg::Result result = conn.exec_prepared(
      fetch_, pg::Params(queue, kinds, timeouts_ms, std::int32_t{limit}, client_id, now,
                         after_priority, after_scheduled_at, after_id));
  std::vector<JobRow> jobs;
  jobs.reserve(result.size());
  for (auto row : result)
    jobs.push_back(parse_row(row));
  std::sort(jobs.begin(), jobs.end(), [](const JobRow& a, const JobRow& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    if (a.scheduled_at != b.scheduled_at) return a.scheduled_at < b.scheduled_at;
    return a.id < b.id;
  });
  return jobs;
}

std::vector<std::pair<std::int64_t, JobState>> JobStore::complete(
    pg::Connection& conn, std::span<const Completion> outcomes, std::optional<Timestamp> now) {
  // Columns straight from the outcomes; errors as text (see ResourceStore::inform).
  pg::Params params;
  params.reserve(8);
  params.add_array(outcomes, [](const Completion& o) { return o.id; })
      .add_array(outcomes, [](const Completion& o) { return o.attempt; })
      .add_array(outcomes, [](const Completion& o) -> const std::string& { return o.attempted_by; })
      .add_array(outcomes, [](const Completion& o) { return std::string_view(to_string(o.state)); })
      .add_array(outcomes, [](const Completion& o) { return o.delay_ms; })
      .add_array(outcomes, [](const Completion& o) { return o.give_back_attempt; })
      .add_array(outcomes, [](const Completion& o) { return internal::json_text(o.error); })
      .add(now);
  pg::Result result = conn.exec_prepared(complete_, params);
  std::vector<std::pair<std::int64_t, JobState>> done;
  done.reserve(result.size());
  for (auto row : result) {
    done.emplace_back(row.get<std::int64_t>(0), job_state_from_string(row.text(1)));
  }
  return done;
}

std::int64_t JobStore::schedule(pg::Connection& conn, int limit, std::optional<Timestamp> now) {
  return conn.exec_prepared(schedule_, pg::Params(std::int32_t{limit}, now, jobs_channel_))
      .one()
      .get<std::int64_t>(0);
}

std::vector<RescueCandidate> JobStore::lock_stuck(pg::Connection& conn, std::int64_t client_ttl_ms,
                                                  std::int64_t margin_ms, int limit,
                                                  std::optional<Timestamp> now) {
  pg::Result result = conn.exec_prepared(
      lock_stuck_, pg::Params(client_ttl_ms, margin_ms, std::int32_t{limit}, now));
  std::vector<RescueCandidate> stuck;
  for (auto row : result)
    stuck.push_back({parse_row(row, 1), row.get<std::string>(0)});
  return stuck;
}

void JobStore::rescue(pg::Connection& conn, std::span<const Rescue> rescues,
                      std::optional<Timestamp> now) {
  pg::Params params;
  params.reserve(6);
  params.add_array(rescues, [](const Rescue& r) { return r.id; })
      .add_array(rescues, [](const Rescue& r) { return r.attempt; })
      .add_array(rescues, [](const Rescue& r) { return std::string_view(to_string(r.state)); })
      .add_array(rescues, [](const Rescue& r) { return r.delay_ms; })
      .add_array(rescues, [](const Rescue& r) { return r.error.dump(); })
      .add(now);
  conn.exec_prepared(rescue_, params);
}

std::int64_t JobStore::clean(pg::Connection& conn, std::int64_t completed_ms,
                             std::int64_t cancelled_ms, std::int64_t discarded_ms, int limit,
                             std::optional<Timestamp> now) {
  return conn
      .exec_prepared(clean_,
                     pg::Params(completed_ms, cancelled_ms, discarded_ms, std::int32_t{limit}, now))
      .affected_rows();
}

std::int64_t JobStore::release(pg::Connection& conn, const std::vector<std::int64_t>& ids,
                               const std::string& client_id, std::optional<Timestamp> now) {
  return conn.exec_prepared(release_, pg::Params(ids, client_id, now, jobs_channel_))
      .one()
      .get<std::int64_t>(0);
}

std::optional<JobRow> JobStore::get(pg::Connection& conn, std::int64_t id) {
  pg::Result result = conn.exec_prepared(get_, pg::Params(id));
  if (result.empty()) return std::nullopt;
  return parse_row(result[0]);
}

std::optional<JobRow> JobStore::cancel(pg::Connection& conn, std::int64_t id,
                                       std::optional<Timestamp> now) {
  pg::Result result = conn.exec_prepared(cancel_, pg::Params(id, now, control_channel_));
  if (result.empty()) return std::nullopt;
  return parse_row(result[0]);
}

std::optional<JobRow> JobStore::retry(pg::Connection& conn, std::int64_t id,
                                      std::optional<Timestamp> now) {
  pg::Result result = conn.exec_prepared(retry_, pg::Params(id, now, jobs_channel_));
  if (result.empty()) return get(conn, id);
  return parse_row(result[0]);
}

void JobStore::set_queue_paused(pg::Connection& conn, const std::string& queue, bool paused,
                                std::optional<Timestamp> now) {
  conn.exec_prepared(pause_, pg::Params(queue, paused, now));
  if (!paused) notify(conn, jobs_channel_, queue);
}

void JobStore::heartbeat(pg::Connection& conn, const std::string& client_id,
                         const std::string& host, int pid, const nlohmann::json& metadata,
                         std::optional<Timestamp> now) {
  conn.exec_prepared(heartbeat_, pg::Params(client_id, host, std::int32_t{pid}, metadata, now));
}

void JobStore::mark_stopped(pg::Connection& conn, const std::string& client_id,
                            std::optional<Timestamp> now) {
  conn.exec_prepared(stopped_, pg::Params(client_id, now));
}

std::int64_t JobStore::prune_clients(pg::Connection& conn, std::int64_t older_than_ms,
                                     std::optional<Timestamp> now) {
  return conn.exec_prepared(prune_clients_, pg::Params(older_than_ms, now)).affected_rows();
}

bool JobStore::elect(pg::Connection& conn, const std::string& client_id, std::int64_t ttl_ms,
                     std::optional<Timestamp> now) {
  return !conn.exec_prepared(elect_, pg::Params(client_id, ttl_ms, now)).empty();
}

void JobStore::resign(pg::Connection& conn, const std::string& client_id) {
  conn.exec_prepared(resign_, pg::Params(client_id, control_channel_));
}

void JobStore::ensure_periodic(pg::Connection& conn, const std::string& name,
                               std::int64_t interval_ms, bool run_on_start,
                               std::optional<Timestamp> now) {
  conn.exec_prepared(ensure_periodic_, pg::Params(name, interval_ms, run_on_start, now));
}

bool JobStore::claim_periodic(pg::Connection& conn, const std::string& name,
                              std::int64_t interval_ms, std::optional<Timestamp> now) {
  return !conn.exec_prepared(claim_periodic_, pg::Params(name, interval_ms, now)).empty();
}

void JobStore::notify(pg::Connection& conn, const std::string& channel,
                      const std::string& payload) {
  conn.exec_prepared(notify_, pg::Params(channel, payload));
}

}  // namespace delta::jobs
