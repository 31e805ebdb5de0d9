#include "jobs/store.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <unordered_map>

#include <fmt/format.h>

#include "schema/sql.hpp"

namespace delta::jobs {

using internal::channel_name;

namespace {

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
  const internal::StoreStatements statements("dj", "jobs", schema);
  insert_ = internal::BatchStatement(statements.name("insert"), statements.sql("insert"));
  insert_plain_ =
      internal::BatchStatement(statements.name("insert_plain"), statements.sql("insert_plain"));
  insert_one_ = statements.cached("insert_one");
  lookup_unique_ = statements.cached("insert_lookup_unique");
  fetch_ = statements.cached("fetch");
  // A fetch commits without waiting for its WAL to reach the disk: one lost in a
  // database crash leaves its jobs available, to run again (jobs run at least once), and
  // the durable commit of their outcome flushes the fetch before it.
  fetch_.local_settings = {{"synchronous_commit", "off"}};
  complete_ = statements.cached("complete");
  schedule_ = statements.cached("schedule");
  lock_stuck_ = statements.cached("lock_stuck");
  rescue_ = statements.cached("rescue");
  clean_ = statements.cached("clean");
  release_ = statements.cached("release");
  ensure_queues_ = statements.cached("ensure_queues");
  flow_running_sql_ = statements.sql("flow_running");
  get_ = statements.cached("get");
  cancel_ = statements.cached("cancel");
  retry_ = statements.cached("retry");
  pause_ = statements.cached("set_queue_paused");
  prune_clients_ = statements.cached("prune_clients");
  ensure_periodic_ = statements.cached("ensure_periodic");
  claim_periodic_ = statements.cached("claim_periodic");
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

pg::Result JobStore::run_fetch(pg::Connection& conn, const std::string& queue,
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
  return conn.exec_prepared(
      fetch_, pg::Params(queue, kinds, timeouts_ms, std::int32_t{limit}, client_id, now,
                         after_priority, after_scheduled_at, after_id));
}

std::vector<JobRow> JobStore::fetched_rows(const pg::Result& result) {
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

std::vector<JobRow> JobStore::fetch(pg::Connection& conn, const std::string& queue,
                                    const std::vector<std::string>& kinds,
                                    const std::vector<std::int64_t>& timeouts_ms, int limit,
                                    const std::string& client_id, std::optional<Timestamp> now,
                                    const std::optional<FetchKey>& after) {
  return fetched_rows(run_fetch(conn, queue, kinds, timeouts_ms, limit, client_id, now, after));
}

JobStore::LimitedFetch JobStore::fetch_limited(pg::Connection& conn, const runtime::FlowStore& flow,
                                               const std::string& queue,
                                               const std::vector<std::string>& kinds,
                                               const std::vector<std::int64_t>& timeouts_ms,
                                               int limit, const std::string& client_id,
                                               std::optional<Timestamp> now,
                                               const std::optional<FetchKey>& after) {
  return runtime::in_flow_transaction(conn, [&] {
    LimitedFetch fetched;
    std::vector<runtime::FlowLocked> locked;
    std::int64_t running = 0;
    Timestamp locked_at;
    {
      // One round trip: open the transaction, lock the queue's limit row, count the jobs
      // running once it is held.
      pg::Pipeline pipe(conn, pg::Pipeline::Flush::at_sync);
      pipe.send("BEGIN", {});
      pipe.send("SET LOCAL synchronous_commit = off", {});
      pipe.send(flow.lock_sql(), pg::Params(std::vector<std::string>{queue}));
      pipe.send(flow_running_sql_, pg::Params(queue));
      pipe.send(runtime::FlowStore::clock_sql(), {});
      pipe.send_sync();
      pipe.receive();
      pipe.receive();
      locked = runtime::FlowStore::parse_locked(pipe.receive());
      running = pipe.receive().one().get<std::int64_t>(0);
      locked_at = pipe.receive().one().get<Timestamp>(0);
      pipe.sync();
    }
    runtime::FlowPlan plan(locked_at, std::chrono::steady_clock::now());
    std::optional<std::size_t> scope;
    if (!locked.empty()) {
      scope = plan.add(locked.front(), running);
      limit = std::min(limit, plan.room(*scope));
    }
    if (limit > 0) {
      fetched.jobs =
          fetched_rows(run_fetch(conn, queue, kinds, timeouts_ms, limit, client_id, now, after));
    }
    for (std::size_t i = 0; i < fetched.jobs.size(); ++i) {
      fetched.starts.push_back(scope ? plan.take({*scope}) : plan.take({}));
    }
    runtime::settle_and_commit(conn, plan, {{&flow, 0}});
    fetched.next_due = plan.next_due();
    fetched.capped = plan.capped();
    return fetched;
  });
}

void JobStore::ensure_queues(pg::Connection& conn, const std::vector<std::string>& queues) {
  conn.exec_prepared(ensure_queues_, pg::Params(queues));
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
}

std::int64_t JobStore::prune_clients(pg::Connection& conn, std::int64_t older_than_ms,
                                     std::optional<Timestamp> now) {
  return conn.exec_prepared(prune_clients_, pg::Params(older_than_ms, now)).affected_rows();
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

}  // namespace delta::jobs
