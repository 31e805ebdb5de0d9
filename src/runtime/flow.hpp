// Flow control across processes (docs/flow-control.md): the statements over the limit
// columns of one table (delta_controller, delta_namespace or delta_queue), the snapshot a
// process keeps of the limits in force, and a limited claim's arithmetic.
//
// A claim of scopes with no limit in force runs as before, untouched. A limited claim is
// one transaction: flow_lock locks the limited scopes' rows (so limited claimers of a
// scope take turns, across every process), a count of what is in use follows with a
// snapshot taken once the lock is held, the claim asks for no more than the limits leave,
// and flow_settle writes the rate limiters' state before the commit.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <delta/log.hpp>

#include "common/flow.hpp"
#include "pg/connection.hpp"
#include "schema/statements.hpp"

namespace delta::runtime {

enum class FlowTable { kinds, namespaces, queues };

// The conditions that render a flow statement (runtime/flow_*.sql, admin/set_limits.sql)
// for `table`.
std::span<const schema::Condition> flow_conditions(FlowTable table);

// Columns `first` .. first + 2 of a row: concurrency, rate count, rate interval (ms), as
// every statement over the limit columns returns them.
internal::FlowLimit limit_at(const pg::Row& row, int first);

// What flow_register found for one scope.
struct FlowRegistered {
  std::string name;
  internal::FlowLimit in_force;
  internal::FlowLimit stored_default;
  bool overridden = false;
};

// A scope locked by flow_lock: its limits and rate state.
struct FlowLocked {
  std::string name;
  internal::FlowLimit limit;
  std::optional<Timestamp> tat;
};

// Rolls back the connection's open transaction, if any; a failure leaves a broken
// connection for the pool to discard.
void rollback_quietly(pg::Connection& conn) noexcept;

class FlowStore {
 public:
  FlowStore(const std::string& schema, FlowTable table);
  // Registers `defaults[i]` for names[i] where the scope has none yet; returns what is
  // stored for each.
  std::vector<FlowRegistered> register_limits(pg::Connection& conn,
                                              const std::vector<std::string>& names,
                                              const std::vector<internal::FlowLimit>& defaults);
  // flow_lock's and flow_settle's SQL and parameters, for a pipeline.
  const std::string& lock_sql() const noexcept { return lock_sql_; }
  const std::string& settle_sql() const noexcept { return settle_sql_; }
  // flow_lock prepared (Connection::prepare before a pipeline's send_prepared).
  const pg::Statement& lock_statement() const noexcept { return lock_; }
  static std::vector<FlowLocked> parse_locked(const pg::Result& result);
  // The database's clock once the locks are held (the rate limiters' "now"; now() would
  // be the transaction's start, before any wait for a lock).
  static const std::string& clock_sql() {
    static const std::string sql = "SELECT clock_timestamp()";
    return sql;
  }

 private:
  pg::Statement register_, lock_;
  std::string lock_sql_, settle_sql_;
};

// The limits in force of a table's scopes as this process last read them (at most one
// poll interval old): whether a claim must take the limited path. Refreshed by whichever
// claimer finds it stale; registers this process's defaults on the way.
class FlowSnapshot {
 public:
  FlowSnapshot(FlowStore& store, std::string what, std::map<std::string, internal::FlowLimit> code,
               std::chrono::milliseconds max_age, const Logger& logger);
  // True when any of `names` had a limit in force at the last refresh.
  bool limited(const std::vector<std::string>& names) const;
  bool limited(const std::string& name) const;
  std::optional<internal::FlowLimit> in_force(const std::string& name) const;
  // Reads the limits again if the snapshot is older than max_age (or never read). Throws
  // DatabaseError; the snapshot stays as it was then.
  void refresh_if_stale(pg::Connection& conn);
  // The next claim reads the limits again first.
  void invalidate();

 private:
  FlowStore& store_;
  const std::string what_;  // "kind", "namespace" or "queue", for the warnings
  const std::map<std::string, internal::FlowLimit> code_;
  const std::chrono::milliseconds max_age_;
  const Logger& logger_;
  mutable std::mutex mutex_;
  std::map<std::string, internal::FlowLimit> in_force_;        // guarded by mutex_
  std::map<std::string, internal::FlowLimit> warned_;          // guarded by mutex_
  std::optional<std::chrono::steady_clock::time_point> read_;  // guarded by mutex_
  std::mutex refreshing_;
};

// The scopes of one limited claim: how many each lets the claim take, and when each
// claimed item may start.
class FlowPlan {
 public:
  // `now`: the database's clock once the locks were held; `received`: the steady clock
  // when the client learnt it.
  FlowPlan(Timestamp now, std::chrono::steady_clock::time_point received);
  // Adds a locked scope with `in_use` items claimed now (pending resources, running jobs);
  // returns its index. `group`: which flow_settle writes its state (e.g. 0 kinds, 1 the
  // namespace).
  std::size_t add(const FlowLocked& scope, std::int64_t in_use, int group = 0);
  // How many more items the scope lets start (concurrency left, rate starts within the
  // lookahead); INT32_MAX when it limits neither.
  int room(std::size_t scope) const;
  // The start of the next item claimed under `scopes`: the earliest time every one of
  // their rate limiters allows, in steady-clock time (a past time: at once).
  std::chrono::steady_clock::time_point take(std::initializer_list<std::size_t> scopes);
  // flow_settle's parameters: the rate-limited scopes of `group` and their state after the
  // takes.
  std::vector<std::string> settle_names(int group) const;
  std::vector<Timestamp> settle_tats(int group) const;
  // The scope's rate limiter state after the takes; nullopt when it has no rate.
  std::optional<Timestamp> rate_state(std::size_t scope) const;
  // When the rate limiters that have no start left within their lookahead let a next
  // claim take a batch of starts (steady clock); nullopt: none is exhausted.
  std::optional<std::chrono::steady_clock::time_point> next_due() const;
  // True when some scope's concurrency cap is reached.
  bool capped() const;

 private:
  struct Scope {
    std::string name;
    internal::FlowLimit limit;
    std::int64_t in_use = 0;
    std::int64_t taken = 0;
    int group = 0;
    std::optional<internal::RateCell> cell;
    std::chrono::microseconds lookahead{0};
  };
  std::chrono::steady_clock::time_point steady(Timestamp at) const;
  Timestamp now_;
  std::chrono::steady_clock::time_point received_;
  std::vector<Scope> scopes_;
};

// Writes the rate limiters' state of `plan` (each store with its group of scopes) and
// commits, in one round trip.
void settle_and_commit(pg::Connection& conn, const FlowPlan& plan,
                       std::initializer_list<std::pair<const FlowStore*, int>> stores);

// Runs `claim` (a limited claim's statements, from BEGIN to settle_and_commit); rolls the
// transaction back when it throws, and rethrows.
template <class F>
auto in_flow_transaction(pg::Connection& conn, F&& claim) {
  try {
    return claim();
  } catch (...) {
    rollback_quietly(conn);
    throw;
  }
}

}  // namespace delta::runtime
