// What one attempt of a resource's work comes to: the row the completer writes and the
// event it publishes, from what work() returned or threw and why its stop token fired.
// Pure: no database, no clock but `now`, so every row of the mapping has a unit test.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <delta/controller.hpp>
#include <delta/resource.hpp>

#include "resources/store.hpp"
#include "runtime/failure.hpp"
#include "runtime/watchdog.hpp"

namespace delta::resources {

// How work() ended.
struct WorkEnd {
  std::optional<WorkResult> result;  // what work() returned; nullopt when it threw
  runtime::Failure failure;          // what it threw
  runtime::Watchdog::Flags flags;    // why its stop token fired, if it did
  std::chrono::milliseconds timeout{0};
};

struct WorkOutcome {
  FinishRow row;
  std::optional<EventCategory> event;  // nullopt: no event (requeued or released)
  std::string event_error;
};

// The backoff before the next attempt after attempt `attempt` failed (it may throw: the
// delay is then 1 s and `backoff_failed` gets the message).
struct Backoff {
  std::function<std::chrono::milliseconds(int attempt)> delay;
  std::function<void(const std::string& message)> failed;
};

// The outcome of attempt `attempt` of the claim `claim` (id, attempted_at and generation
// set: the fence of the finish).
WorkOutcome work_outcome(FinishRow claim, int attempt, std::optional<Timestamp> now, WorkEnd end,
                         const Backoff& backoff);
// A failed attempt (also when the work could not start: the stored object does not parse).
WorkOutcome failed_outcome(FinishRow claim, int attempt, std::optional<Timestamp> now,
                           const runtime::Failure& failure, const Backoff& backoff);

}  // namespace delta::resources
