#include "resources/store.hpp"

#include <array>
#include <map>

#include <delta/errors.hpp>

#include "common/digest.hpp"
#include "common/invariant.hpp"
#include "schema/sql.hpp"

namespace delta::resources {

namespace {

// The claim's own settings (ResourceStore's constructor) for a pipeline without a
// transaction block.
const std::string kClaimSettingsSql =
    "SELECT set_config('synchronous_commit', 'off', true), "
    "set_config('plan_cache_mode', 'force_generic_plan', true)";

// delta_flow_take's refusal (migration 0007).
constexpr std::string_view kFlowRefused = "DL001";

// The columns of a resource row (parse_row), in the order every query lists them.
constexpr int kColumnCount = 22;

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
  const internal::StoreStatements statements("dr", "resources", schema);
  // upsert.sql and upsert_split.sql, each full (the rows after the upsert) or brief
  // (statuses only). A one-object inform runs its generic plan (internal::kGenericPlan):
  // planning took longer than running it.
  const auto upsert = [&](std::string_view name, std::string_view query, bool full) {
    return internal::BatchStatement(statements.name(name), statements.sql(query, {{"full", full}}),
                                    true);
  };
  upsert_full_ = upsert("upsert_full", "upsert", true);
  upsert_brief_ = upsert("upsert_brief", "upsert", false);
  upsert_full_split_ = upsert("upsert_full_split", "upsert_split", true);
  upsert_brief_split_ = upsert("upsert_brief_split", "upsert_split", false);
  lock_objects_ = statements.cached("lock_objects");
  claim_ = statements.cached("claim");
  // The claim runs its generic plan (internal::kGenericPlan) and commits without waiting
  // for its WAL to reach the disk. A claim lost in a database crash (at most
  // 3 x wal_writer_delay after it) only makes its resources runnable again: their work
  // runs again, as after any lost lease -- delivery is at least once anyway -- and the
  // outcome's commit, durable, flushes the claim before it.
  claim_.local_settings = {internal::kGenericPlan, {"synchronous_commit", "off"}};
  flow_pending_sql_ = statements.sql("flow_pending");
  flow_check_ = statements.cached("flow_check");
  renew_leases_ = statements.cached("renew_leases");
  finish_ = statements.cached("finish");
  rescue_ = statements.cached("rescue");
  get_ = statements.cached("get");
  invalidate_ = statements.cached("invalidate");
  retry_ = statements.cached("retry");
  known_kinds_ = statements.cached("known_kinds");
  upsert_namespace_ = statements.cached("upsert_namespace");
  upsert_controller_ = statements.cached("upsert_controller");
  prepare_maintenance(schema);
}

void ResourceStore::prepare_maintenance(const std::string& schema) {
  const internal::StoreStatements statements("dr", "resources", schema);
  begin_inform_ = statements.cached("begin_inform");
  end_inform_ = statements.cached("end_inform");
  disable_informs_ = statements.cached("disable_informs");
  due_informs_ = statements.cached("due_informs");
  expire_ = statements.cached("expire");
  clean_ = statements.cached("clean");
}

std::optional<Timestamp> ResourceStore::begin_inform(pg::Connection& conn, const std::string& kind,
                                                     std::optional<Timestamp> now) {
  pg::Result result = conn.exec_prepared(begin_inform_, pg::Params(kind, now));
  if (result.empty()) return std::nullopt;
  return result[0].get<std::optional<Timestamp>>(0);
}

void ResourceStore::end_inform(pg::Connection& conn, const InformRun& run,
                               std::optional<Timestamp> cursor, std::optional<Timestamp> now) {
  auto count = [](std::size_t n) { return static_cast<std::int64_t>(n); };
  conn.exec_prepared(end_inform_,
                     pg::Params(run.kind, cursor, run.error, now, count(run.emitted),
                                count(run.inserted), count(run.changed), count(run.unchanged),
                                count(run.stale), count(run.skipped_deleted)));
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
  r.priority = row.get<std::int16_t>(c + 21) == 0 ? Priority::fresh : Priority::background;
  return r;
}

UpsertOutcomes ResourceStore::upsert(pg::Connection& conn, std::string_view kind,
                                     std::span<const UpsertRow> rows, bool resurrect, bool full,
                                     bool notify, std::optional<Timestamp> now) {
  const std::size_t n = rows.size();
  std::vector<std::string> forced, resynced;
  bool any_priority = false;
  for (const auto& row : rows) {
    if (row.force) forced.push_back(row.object_id);
    if (row.force && row.resync) resynced.push_back(row.object_id);
    any_priority = any_priority || row.priority.has_value();
  }
  // Each column goes straight from the rows into its array parameter. JSON travels as
  // text and is cast per row: a jsonb[] parameter costs Postgres ~10 µs per element to
  // read, a text[] one well under 1 µs plus the same parse in the cast.
  pg::Params params;
  params.reserve(16);
  params.add(std::string(kind))
      .add_array(rows, [](const UpsertRow& r) -> const std::string& { return r.object_id; })
      .add_array(rows, [](const UpsertRow& r) -> const std::string& { return r.namespace_name; })
      .add_array(rows, [](const UpsertRow& r) -> const std::string& { return r.body; })
      .add_array(rows, [](const UpsertRow& r) -> const std::string& { return r.metadata; })
      .add_array(rows, [](const UpsertRow& r) { return r.max_attempts; })
      .add_array(rows, [](const UpsertRow& r) { return internal::array_literal(r.tags); })
      .add_array(rows,
                 [](const UpsertRow& r) -> const std::optional<Timestamp>& {
                   return r.external_created_at;
                 })
      .add(resurrect)
      .add(forced)
      .add(now)
      .add(channel_)
      .add(notify)
      .add_array(rows, [](const UpsertRow& r) { return internal::sha256_hex(r.body); })
      .add(resynced);
  // Each row's priority class; a NULL array (every row fresh) when no row names one.
  if (any_priority) {
    params.add_array(rows, [](const UpsertRow& r) -> std::optional<std::int16_t> {
      if (!r.priority) return std::nullopt;
      return static_cast<std::int16_t>(*r.priority == Priority::background ? 1 : 0);
    });
  } else {
    params.add(std::optional<std::vector<std::int16_t>>{});
  }
  const internal::BatchStatement& all_upsert = full ? upsert_full_ : upsert_brief_;
  pg::Result result;
  if (conn.in_transaction()) {
    result = conn.exec_prepared(all_upsert(n), params);
  } else {
    try {
      result = conn.exec_prepared((full ? upsert_full_split_ : upsert_brief_split_)(n), params);
    } catch (const DatabaseError& e) {
      // An object inserted by another transaction meanwhile (see upsert_split.sql).
      if (e.kind() != DatabaseErrorKind::unique_violation &&
          e.kind() != DatabaseErrorKind::retryable) {
        throw;
      }
      result = conn.exec_prepared(all_upsert(n), params);
    }
  }
  UpsertOutcomes outcomes;
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

pg::Params ResourceStore::claim_params(const std::string& ns, const std::vector<std::string>& kinds,
                                       const std::vector<std::int32_t>& limits,
                                       const std::vector<std::int64_t>& lease_ms, int limit,
                                       const std::string& client_id, std::optional<Timestamp> now,
                                       const std::vector<std::optional<ClaimKey>>& after) {
  // One cursor per kind and priority class: kinds.size() of class 0, then of class 1.
  std::array<std::vector<std::optional<Timestamp>>, 2> after_run_at;
  std::array<std::vector<std::optional<std::int64_t>>, 2> after_id;
  for (std::size_t c = 0; c < 2; ++c) {
    after_run_at[c].resize(kinds.size());
    after_id[c].resize(kinds.size());
    for (std::size_t i = 0; i < kinds.size(); ++i) {
      const std::size_t range = c * kinds.size() + i;
      if (range >= after.size() || !after[range]) continue;
      after_run_at[c][i] = after[range]->run_at;
      after_id[c][i] = after[range]->id;
    }
  }
  return pg::Params(kinds, limits, ns, std::int32_t{limit}, lease_ms, client_id, now,
                    after_run_at[0], after_id[0], after_run_at[1], after_id[1]);
}

pg::Result ResourceStore::run_claim(pg::Connection& conn, const std::string& ns,
                                    const std::vector<std::string>& kinds,
                                    const std::vector<std::int32_t>& limits,
                                    const std::vector<std::int64_t>& lease_ms, int limit,
                                    const std::string& client_id, std::optional<Timestamp> now,
                                    const std::vector<std::optional<ClaimKey>>& after) {
  return conn.exec_prepared(
      claim_, claim_params(ns, kinds, limits, lease_ms, limit, client_id, now, after));
}

std::vector<ResourceRow> ResourceStore::claimed_rows(const pg::Result& result) {
  std::vector<ResourceRow> rows;
  rows.reserve(result.size());
  for (auto row : result)
    rows.push_back(parse_row(row));
  // Claim order: fresh before background, then oldest due first.
  std::sort(rows.begin(), rows.end(), [](const ResourceRow& a, const ResourceRow& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    if (a.run_at != b.run_at) return a.run_at < b.run_at;
    return a.id < b.id;
  });
  return rows;
}

std::vector<ResourceRow> ResourceStore::claim(pg::Connection& conn, const std::string& ns,
                                              const std::vector<std::string>& kinds,
                                              const std::vector<std::int32_t>& limits,
                                              const std::vector<std::int64_t>& lease_ms, int limit,
                                              const std::string& client_id,
                                              std::optional<Timestamp> now,
                                              const std::vector<std::optional<ClaimKey>>& after) {
  return claimed_rows(run_claim(conn, ns, kinds, limits, lease_ms, limit, client_id, now, after));
}

namespace {

constexpr std::size_t kNoScope = static_cast<std::size_t>(-1);

// The start of each claimed row under its kind's and its namespace's rate limiters, in
// claim order.
std::vector<std::chrono::steady_clock::time_point> take_starts(
    runtime::FlowPlan& plan, const std::map<std::string, std::size_t>& kind_scope,
    std::size_t ns_scope, const std::vector<ResourceRow>& rows) {
  std::vector<std::chrono::steady_clock::time_point> starts;
  starts.reserve(rows.size());
  for (const auto& row : rows) {
    auto it = kind_scope.find(row.kind);
    const std::size_t kind_index = it == kind_scope.end() ? kNoScope : it->second;
    if (kind_index != kNoScope && ns_scope != kNoScope) {
      starts.push_back(plan.take({kind_index, ns_scope}));
    } else if (kind_index != kNoScope || ns_scope != kNoScope) {
      starts.push_back(plan.take({kind_index != kNoScope ? kind_index : ns_scope}));
    } else {
      starts.push_back(plan.take({}));
    }
  }
  return starts;
}

}  // namespace

ResourceStore::LimitedClaim ResourceStore::claim_limited(
    pg::Connection& conn, const runtime::FlowStore& kind_flow,
    const runtime::FlowStore& namespace_flow, const std::string& ns,
    const std::vector<std::string>& kinds, std::vector<std::int32_t> limits,
    const std::vector<std::int64_t>& lease_ms, int limit, const std::string& client_id,
    std::optional<Timestamp> now, const std::vector<std::optional<ClaimKey>>& after) {
  return runtime::in_flow_transaction(conn, [&] {
    LimitedClaim claimed;
    // One round trip: open the transaction (the claim's settings), lock the limit rows,
    // count what is pending once they are held.
    std::vector<runtime::FlowLocked> kind_locked, ns_locked;
    pg::Result pending;
    Timestamp locked_at;
    {
      pg::Pipeline pipe(conn, pg::Pipeline::Flush::at_sync);
      pipe.send("BEGIN", {});
      pipe.send("SET LOCAL synchronous_commit = off", {});
      pipe.send("SET LOCAL plan_cache_mode = force_generic_plan", {});
      pipe.send(kind_flow.lock_sql(), pg::Params(kinds));
      pipe.send(namespace_flow.lock_sql(), pg::Params(std::vector<std::string>{ns}));
      pipe.send(flow_pending_sql_, pg::Params(kinds, ns));
      pipe.send(runtime::FlowStore::clock_sql(), {});
      pipe.send_sync();
      for (int i = 0; i < 3; ++i)
        pipe.receive();
      kind_locked = runtime::FlowStore::parse_locked(pipe.receive());
      ns_locked = runtime::FlowStore::parse_locked(pipe.receive());
      pending = pipe.receive();
      locked_at = pipe.receive().one().get<Timestamp>(0);
      pipe.sync();
    }
    std::map<std::string, std::int64_t> kind_pending;
    std::int64_t ns_pending = 0;
    for (auto row : pending) {
      const auto count = row.get<std::int64_t>(2);
      kind_pending[row.get<std::string>(0)] += count;
      if (row.get<bool>(1)) ns_pending += count;
    }
    runtime::FlowPlan plan(locked_at, std::chrono::steady_clock::now());
    std::map<std::string, std::size_t> kind_scope;
    for (const auto& locked : kind_locked)
      kind_scope[locked.name] = plan.add(locked, kind_pending[locked.name], 0);
    std::size_t ns_scope = kNoScope;
    if (!ns_locked.empty()) {
      ns_scope = plan.add(ns_locked.front(), ns_pending, 1);
      const int room = plan.room(ns_scope);
      claimed.cut = claimed.cut || room < limit;
      limit = std::min(limit, room);
    }
    int asked = 0;
    for (std::size_t i = 0; i < kinds.size(); ++i) {
      if (auto it = kind_scope.find(kinds[i]); it != kind_scope.end()) {
        const int room = plan.room(it->second);
        claimed.cut = claimed.cut || room < limits[i];
        limits[i] = std::min(limits[i], room);
      }
      asked += limits[i];
    }
    if (limit > 0 && asked > 0) {
      claimed.rows =
          claimed_rows(run_claim(conn, ns, kinds, limits, lease_ms, limit, client_id, now, after));
    }
    claimed.starts = take_starts(plan, kind_scope, ns_scope, claimed.rows);
    runtime::settle_and_commit(conn, plan, {{&kind_flow, 0}, {&namespace_flow, 1}});
    claimed.next_due = plan.next_due();
    claimed.capped = plan.capped();
    return claimed;
  });
}

std::optional<ResourceStore::LimitedClaim> ResourceStore::claim_optimistic(
    pg::Connection& conn, const runtime::FlowStore& kind_flow,
    const runtime::FlowStore& namespace_flow, const std::string& ns,
    const std::vector<std::string>& kinds, const std::vector<std::int32_t>& limits,
    const std::vector<std::int64_t>& lease_ms, int limit, const std::string& client_id,
    std::optional<Timestamp> now, const std::vector<std::optional<ClaimKey>>& after) {
  const pg::Params params = claim_params(ns, kinds, limits, lease_ms, limit, client_id, now, after);
  const pg::Params kind_params(kinds), ns_params(std::vector<std::string>{ns}),
      check_params(kinds, ns);
  conn.prepare(claim_, params);
  conn.prepare(kind_flow.lock_statement(), kind_params);
  conn.prepare(namespace_flow.lock_statement(), ns_params);
  conn.prepare(flow_check_, check_params);
  pg::Result rows, checked;
  try {
    // One round trip and one implicit transaction, committed at the sync (or rolled back
    // when a statement fails): the claim's settings, the claim, the limit rows locked, the
    // check. The limit rows are held only while the server runs the check and commits.
    pg::Pipeline pipe(conn, pg::Pipeline::Flush::at_sync);
    pipe.send(kClaimSettingsSql, {});
    pipe.send_prepared(claim_.name, params);
    pipe.send_prepared(kind_flow.lock_statement().name, kind_params);
    pipe.send_prepared(namespace_flow.lock_statement().name, ns_params);
    pipe.send_prepared(flow_check_.name, check_params);
    pipe.send_sync();
    pipe.receive();
    rows = pipe.receive();
    pipe.receive();
    pipe.receive();
    checked = pipe.receive();
    pipe.sync();
  } catch (const DatabaseError& e) {
    if (e.sqlstate() == kFlowRefused) return std::nullopt;  // rolled back: nothing claimed
    throw;
  }
  LimitedClaim claimed;
  claimed.rows = claimed_rows(rows);
  std::optional<runtime::FlowPlan> plan;
  std::map<std::string, std::size_t> kind_scope;
  std::size_t ns_scope = kNoScope;
  std::vector<std::pair<std::size_t, Timestamp>> stored_tats;  // scopes a rate start was taken of
  for (auto row : checked) {
    if (!plan) plan.emplace(row.get<Timestamp>(8), std::chrono::steady_clock::now());
    runtime::FlowLocked scope{row.get<std::string>(1), runtime::limit_at(row, 2),
                              row.get<std::optional<Timestamp>>(5)};
    const auto in_use = row.get<std::int64_t>(6) - row.get<std::int64_t>(7);
    const int group = row.get<std::int32_t>(0);
    const std::size_t index = plan->add(scope, in_use, group);
    if (group == 0) {
      kind_scope[scope.name] = index;
    } else {
      ns_scope = index;
    }
    if (scope.limit.rate && row.get<std::int64_t>(7) > 0)
      stored_tats.emplace_back(index, row.get<Timestamp>(9));
  }
  if (!plan) {
    // No limit in force any more (cleared since this process last read them).
    claimed.starts.assign(claimed.rows.size(), std::chrono::steady_clock::time_point{});
    return claimed;
  }
  claimed.starts = take_starts(*plan, kind_scope, ns_scope, claimed.rows);
  // The starts follow the arithmetic delta_flow_take stored: the same state after them.
  for (const auto& [index, stored] : stored_tats) {
    internal::check_invariant(plan->rate_state(index) == stored,
                              "an optimistic claim's rate state differs from the database's");
  }
  claimed.next_due = plan->next_due();
  claimed.capped = plan->capped();
  return claimed;
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
                                      std::optional<std::int64_t> inform_interval_ms,
                                      std::optional<std::int64_t> debounce_ms) {
  conn.exec_prepared(upsert_controller_, pg::Params(kind, inform_interval_ms, debounce_ms));
}

}  // namespace delta::resources
