// What one attempt of a job comes to: the row the completer writes and the event it
// publishes, from what the worker returned or threw and why its stop token fired. Pure:
// no database, no clock but `now`, so every row of the mapping has a unit test.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <delta/jobs.hpp>

#include "jobs/store.hpp"
#include "runtime/failure.hpp"
#include "runtime/watchdog.hpp"

namespace delta::jobs {

// How an attempt ended.
struct AttemptEnd {
  std::optional<JobResult> result;  // what the worker returned; nullopt when it threw
  runtime::Failure failure;         // what it threw
  runtime::Watchdog::Flags flags;   // why its stop token fired, if it did
  std::chrono::milliseconds timeout{0};
};

struct JobOutcome {
  Completion completion;
  std::optional<JobEventKind> event;  // nullopt: no event (released at shutdown)
  std::string event_error;
};

// The outcome of attempt `job.attempt` of `job` by `client_id`. `retry_delay` is called
// only when the job will be retried (it may throw: the delay is then 1 s and
// `retry_delay_failed` gets the message).
JobOutcome attempt_outcome(const JobRow& job, const std::string& client_id,
                           std::optional<Timestamp> now, AttemptEnd end,
                           const std::function<std::chrono::milliseconds()>& retry_delay,
                           const std::function<void(const std::string&)>& retry_delay_failed);

}  // namespace delta::jobs
