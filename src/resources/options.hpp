// The resource engine's options: controllers and namespaces, timeouts, leases, claims,
// retries, informer schedules, expiry, retention and the leader's maintenance.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <delta/controller.hpp>
#include <delta/namespace.hpp>
#include <delta/resource.hpp>

namespace delta::resources {

using std::chrono::milliseconds;

struct Options {
  Controllers controllers{};
  std::map<std::string, NamespaceConfig> namespaces{};
  milliseconds poll_interval{1000};
  milliseconds work_timeout{std::chrono::minutes(1)};
  milliseconds inform_timeout{std::chrono::minutes(10)};
  milliseconds stuck_threshold{std::chrono::minutes(1)};
  int resource_prefetch = 32;
  int resource_claimers = 2;
  bool fair_namespaces = true;
  ResourceBackoff resource_backoff{};  // empty: polynomial_backoff()
  milliseconds inform_interval{std::chrono::hours(1)};
  milliseconds inform_jitter{std::chrono::minutes(1)};
  milliseconds inform_progress_interval{5000};  // 0: no progress reports
  milliseconds maintenance_interval{std::chrono::minutes(1)};
  milliseconds cleaner_interval{std::chrono::minutes(15)};
  milliseconds rescuer_interval{5000};
  milliseconds resource_expiry{0};
  milliseconds synced_retention{std::chrono::hours(24)};
  milliseconds deleted_retention{std::chrono::hours(24)};
  milliseconds degraded_retention{std::chrono::hours(24)};
  int completer_batch_size = 500;
  milliseconds completer_flush_interval{2};

  // Every problem with these options, in the order of the fields (empty: none). Batch
  // sizes and intervals shared with the job queue are checked there.
  std::vector<std::string> check() const;
  // A copy with the resource backoff filled in where empty.
  Options with_defaults() const;
};

}  // namespace delta::resources
