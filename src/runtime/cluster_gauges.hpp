// The cluster-wide gauges: resources per kind, namespace and state, jobs per queue and
// state, and the due-but-unclaimed count and lag per kind and per queue.
//
// They need a query over every row, so they are not computed per scrape: the leader runs
// one statement (runtime/cluster_gauges) every Options::cluster_metrics_interval, on a
// lane of its own, and keeps the result; the metrics snapshot adds it while this process
// leads and the result is recent (three intervals). Other processes export none of them:
// in Prometheus, `max by (...)` over the instances gives one value through a change of
// leader.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include <delta/metrics.hpp>

#include "pg/connection.hpp"
#include "runtime/context.hpp"
#include "runtime/leader_tasks.hpp"

namespace delta::runtime {

class ClusterGauges {
 public:
  static constexpr std::string_view kLane = "cluster metrics";

  // `is_leader()`: whether this process leads now (Elector::is_leader).
  ClusterGauges(Context& ctx, std::function<bool()> is_leader);

  // Adds the refresh to `tasks` (nothing when the interval is 0: the gauges are off).
  void register_task(LeaderTasks& tasks);
  // Runs the query and keeps what it found (throws DatabaseError; the task loop logs,
  // backs off and retries).
  void refresh();
  // Appends the kept families when this process leads and they are recent.
  void collect(std::vector<MetricFamily>& out) const;

 private:
  using Clock = std::chrono::steady_clock;
  Context& ctx_;
  std::function<bool()> is_leader_;
  pg::Statement statement_;
  mutable std::mutex mutex_;
  std::vector<MetricFamily> families_;  // guarded by mutex_
  Clock::time_point refreshed_{};       // guarded by mutex_
};

}  // namespace delta::runtime
