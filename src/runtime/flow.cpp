#include "runtime/flow.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include <fmt/format.h>

#include "schema/sql.hpp"

namespace delta::runtime {

namespace {

std::string_view table_tag(FlowTable table) {
  switch (table) {
    case FlowTable::kinds:
      return "k";
    case FlowTable::namespaces:
      return "n";
    case FlowTable::queues:
      return "q";
  }
  return "k";
}

}  // namespace

internal::FlowLimit limit_at(const pg::Row& row, int first) {
  internal::FlowLimit limit;
  limit.concurrency = row.get<std::optional<std::int32_t>>(first);
  auto count = row.get<std::optional<std::int32_t>>(first + 1);
  auto per = row.get<std::optional<std::int64_t>>(first + 2);
  if (count && per) limit.rate = RateLimit{*count, std::chrono::milliseconds(*per)};
  return limit;
}

std::span<const schema::Condition> flow_conditions(FlowTable table) {
  static const std::array<schema::Condition, 4> kinds{
      {{"kinds", true}, {"named", false}, {"namespaces", false}, {"queues", false}}};
  static const std::array<schema::Condition, 4> namespaces{
      {{"kinds", false}, {"named", true}, {"namespaces", true}, {"queues", false}}};
  static const std::array<schema::Condition, 4> queues{
      {{"kinds", false}, {"named", true}, {"namespaces", false}, {"queues", true}}};
  switch (table) {
    case FlowTable::kinds:
      return kinds;
    case FlowTable::namespaces:
      return namespaces;
    case FlowTable::queues:
      return queues;
  }
  return kinds;
}

FlowStore::FlowStore(const std::string& schema, FlowTable table) {
  const internal::StoreStatements statements("df", "runtime", schema);
  const auto conditions = flow_conditions(table);
  register_ =
      internal::cached_statement(statements.name(fmt::format("flow_register_{}", table_tag(table))),
                                 schema::render_query("runtime/flow_register", schema, conditions));
  lock_sql_ = schema::render_query("runtime/flow_lock", schema, conditions);
  lock_ = internal::cached_statement(statements.name(fmt::format("flow_lock_{}", table_tag(table))),
                                     lock_sql_);
  settle_sql_ = schema::render_query("runtime/flow_settle", schema, conditions);
}

std::vector<FlowRegistered> FlowStore::register_limits(
    pg::Connection& conn, const std::vector<std::string>& names,
    const std::vector<internal::FlowLimit>& defaults) {
  std::vector<std::optional<std::int32_t>> concurrency, rate_count;
  std::vector<std::optional<std::int64_t>> rate_per;
  for (const auto& limit : defaults) {
    concurrency.push_back(limit.concurrency);
    rate_count.push_back(limit.rate ? std::optional<std::int32_t>(limit.rate->count)
                                    : std::nullopt);
    rate_per.push_back(limit.rate ? std::optional<std::int64_t>(limit.rate->per.count())
                                  : std::nullopt);
  }
  pg::Result result =
      conn.exec_prepared(register_, pg::Params(names, concurrency, rate_count, rate_per));
  std::vector<FlowRegistered> found;
  for (auto row : result) {
    found.push_back(
        {row.get<std::string>(0), limit_at(row, 1), limit_at(row, 4), row.get<bool>(7)});
  }
  return found;
}

std::vector<FlowLocked> FlowStore::parse_locked(const pg::Result& result) {
  std::vector<FlowLocked> locked;
  for (auto row : result) {
    locked.push_back(
        {row.get<std::string>(0), limit_at(row, 1), row.get<std::optional<Timestamp>>(4)});
  }
  return locked;
}

FlowSnapshot::FlowSnapshot(FlowStore& store, std::string what,
                           std::map<std::string, internal::FlowLimit> code,
                           std::chrono::milliseconds max_age, const Logger& logger)
    : store_(store),
      what_(std::move(what)),
      code_(std::move(code)),
      max_age_(max_age),
      logger_(logger) {}

bool FlowSnapshot::limited(const std::vector<std::string>& names) const {
  std::lock_guard lock(mutex_);
  return std::any_of(names.begin(), names.end(), [&](const std::string& name) {
    auto it = in_force_.find(name);
    return it != in_force_.end() && it->second.any();
  });
}

bool FlowSnapshot::limited(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = in_force_.find(name);
  return it != in_force_.end() && it->second.any();
}

std::optional<internal::FlowLimit> FlowSnapshot::in_force(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = in_force_.find(name);
  if (it == in_force_.end()) return std::nullopt;
  return it->second;
}

void FlowSnapshot::invalidate() {
  std::lock_guard lock(mutex_);
  read_.reset();
}

void FlowSnapshot::refresh_if_stale(pg::Connection& conn) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (read_ && now - *read_ < max_age_) return;
  }
  // One claimer reads; the others go on with the snapshot they have.
  std::unique_lock refreshing(refreshing_, std::try_to_lock);
  if (!refreshing.owns_lock()) return;
  std::vector<std::string> names;
  std::vector<internal::FlowLimit> defaults;
  for (const auto& [name, limit] : code_) {
    names.push_back(name);
    defaults.push_back(limit);
  }
  std::vector<FlowRegistered> found;
  try {
    found = store_.register_limits(conn, names, defaults);
  } catch (const std::exception& e) {
    // Claims go on with the limits last read (none before the first read): the next try
    // is a poll interval away, not at every claim.
    {
      std::lock_guard lock(mutex_);
      read_ = now;
    }
    logger_(LogLevel::warn,
            fmt::format("could not read the flow limits of the {}s (retrying in {} ms): {}", what_,
                        max_age_.count(), e.what()),
            {{"error", e.what()}, {"retry_in_ms", max_age_.count()}});
    throw;
  }
  std::vector<std::pair<std::string, std::string>> warnings;
  {
    std::lock_guard lock(mutex_);
    for (const auto& scope : found) {
      in_force_[scope.name] = scope.in_force;
      const auto& mine = code_.at(scope.name);
      if (scope.stored_default == mine) {
        warned_.erase(scope.name);
        continue;
      }
      // Warned once per stored value: a process started with other defaults keeps the
      // database's, without rewriting them on every start.
      auto it = warned_.find(scope.name);
      if (it != warned_.end() && it->second == scope.stored_default) continue;
      warned_[scope.name] = scope.stored_default;
      warnings.emplace_back(
          scope.name, fmt::format("{} {}: this process's default limits ({}) differ from "
                                  "those registered in the database ({}); the "
                                  "database's are in force{}",
                                  what_, scope.name, internal::describe(mine),
                                  internal::describe(scope.stored_default),
                                  scope.overridden ? " (and overridden by an operator)" : ""));
    }
    read_ = now;
  }
  for (const auto& [name, message] : warnings) {
    logger_(LogLevel::warn, message, {{what_, name}});
  }
}

FlowPlan::FlowPlan(Timestamp now, std::chrono::steady_clock::time_point received)
    : now_(now), received_(received) {}

std::size_t FlowPlan::add(const FlowLocked& locked, std::int64_t in_use, int group) {
  Scope scope;
  scope.name = locked.name;
  scope.limit = locked.limit;
  scope.in_use = in_use;
  scope.group = group;
  if (locked.limit.rate) {
    const auto step = internal::rate_step(*locked.limit.rate);
    scope.lookahead = internal::rate_lookahead(*locked.limit.rate);
    // A stored state beyond what this rate could have reserved (its limit was lowered
    // since, or raised) is brought back within reach.
    Timestamp next = locked.tat.value_or(now_);
    next = std::min(next, now_ + scope.lookahead + step);
    scope.cell = internal::RateCell{step, next};
  }
  scopes_.push_back(std::move(scope));
  return scopes_.size() - 1;
}

int FlowPlan::room(std::size_t index) const {
  const Scope& scope = scopes_[index];
  std::int64_t room = std::numeric_limits<std::int32_t>::max();
  if (scope.limit.concurrency) {
    room = std::min<std::int64_t>(
        room, std::max<std::int64_t>(0, *scope.limit.concurrency - scope.in_use));
  }
  if (scope.cell) room = std::min<std::int64_t>(room, scope.cell->available(now_, scope.lookahead));
  return static_cast<int>(room);
}

std::chrono::steady_clock::time_point FlowPlan::steady(Timestamp at) const {
  return received_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(at - now_);
}

std::chrono::steady_clock::time_point FlowPlan::take(std::initializer_list<std::size_t> indexes) {
  Timestamp at = now_;
  for (auto index : indexes) {
    if (scopes_[index].cell) at = std::max(at, scopes_[index].cell->next);
  }
  for (auto index : indexes) {
    Scope& scope = scopes_[index];
    ++scope.taken;
    if (scope.cell) scope.cell->take(at);
  }
  return steady(at);
}

std::vector<std::string> FlowPlan::settle_names(int group) const {
  std::vector<std::string> names;
  for (const auto& scope : scopes_) {
    if (scope.cell && scope.group == group) names.push_back(scope.name);
  }
  return names;
}

std::vector<Timestamp> FlowPlan::settle_tats(int group) const {
  std::vector<Timestamp> tats;
  for (const auto& scope : scopes_) {
    if (scope.cell && scope.group == group) tats.push_back(scope.cell->next);
  }
  return tats;
}

std::optional<Timestamp> FlowPlan::rate_state(std::size_t index) const {
  const Scope& scope = scopes_[index];
  if (!scope.cell) return std::nullopt;
  return scope.cell->next;
}

std::optional<std::chrono::steady_clock::time_point> FlowPlan::next_due() const {
  std::optional<Timestamp> due;
  for (const auto& scope : scopes_) {
    // Only a rate that has no start left within its lookahead holds claims back.
    if (!scope.cell || scope.cell->available(now_, scope.lookahead) > 0) continue;
    // The next claim gets starts once half the lookahead's worth is due, so claims of a
    // busy limited scope come in batches, not one per start.
    const Timestamp at = scope.cell->next - scope.lookahead / 2;
    if (!due || at > *due) due = at;
  }
  if (!due) return std::nullopt;
  return steady(*due);
}

bool FlowPlan::capped() const {
  return std::any_of(scopes_.begin(), scopes_.end(), [](const Scope& scope) {
    return scope.limit.concurrency && scope.in_use + scope.taken >= *scope.limit.concurrency;
  });
}

void rollback_quietly(pg::Connection& conn) noexcept {
  if (!conn.in_transaction()) return;
  try {
    conn.exec("ROLLBACK");
  } catch (const std::exception&) {
    // A broken connection: the pool discards it.
  }
}

void settle_and_commit(pg::Connection& conn, const FlowPlan& plan,
                       std::initializer_list<std::pair<const FlowStore*, int>> stores) {
  pg::Pipeline pipe(conn, pg::Pipeline::Flush::at_sync);
  int sent = 0;
  for (const auto& [store, group] : stores) {
    auto names = plan.settle_names(group);
    if (names.empty()) continue;
    pipe.send(store->settle_sql(), pg::Params(names, plan.settle_tats(group)));
    ++sent;
  }
  pipe.send("COMMIT", {});
  pipe.send_sync();
  for (int i = 0; i <= sent; ++i)
    pipe.receive();
  pipe.sync();
}

}  // namespace delta::runtime
