// The job queue's options: which queues and workers this process runs, timeouts,
// retention, and the leader's job maintenance.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <delta/jobs.hpp>

namespace delta::jobs {

using std::chrono::milliseconds;

struct Options {
  Workers workers{};
  std::map<std::string, QueueConfig> queues{};
  std::vector<PeriodicJob> periodic_jobs{};
  // Queue names a user may not configure (the client adds them itself).
  std::vector<std::string> reserved_queues{};
  milliseconds poll_interval{1000};
  milliseconds job_timeout{std::chrono::minutes(1)};
  std::shared_ptr<RetryPolicy> retry_policy{};  // empty: exponential_backoff()
  milliseconds completed_job_retention{std::chrono::hours(24)};
  milliseconds cancelled_job_retention{std::chrono::hours(24)};
  milliseconds discarded_job_retention{std::chrono::hours(24 * 7)};
  int completer_batch_size = 500;
  milliseconds completer_flush_interval{2};
  milliseconds scheduler_interval{1000};
  milliseconds rescuer_interval{5000};
  milliseconds rescue_margin{std::chrono::minutes(1)};
  milliseconds job_cleaner_interval{std::chrono::minutes(1)};

  // Every problem with these options, in the order of the fields (empty: none).
  std::vector<std::string> check() const;
  // A copy with the retry policy filled in where empty.
  Options with_defaults() const;
};

}  // namespace delta::jobs
