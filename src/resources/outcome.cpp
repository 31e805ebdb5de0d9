#include "resources/outcome.hpp"

#include <algorithm>

namespace delta::resources {

WorkOutcome failed_outcome(FinishRow claim, int attempt, std::optional<Timestamp> now,
                           const runtime::Failure& failure, const Backoff& backoff) {
  WorkOutcome out;
  out.row = std::move(claim);
  out.row.outcome = Finish::failed;
  out.row.error = runtime::error_entry(attempt, now, failure.message, failure.type);
  std::chrono::milliseconds delay{1000};
  try {
    delay = backoff.delay(attempt);
  } catch (const std::exception& e) {
    if (backoff.failed) backoff.failed(e.what());
  }
  out.row.delay_ms = std::max<std::int64_t>(0, delay.count());
  out.event = EventCategory::failed;
  out.event_error = failure.message;
  return out;
}

WorkOutcome work_outcome(FinishRow claim, int attempt, std::optional<Timestamp> now, WorkEnd end,
                         const Backoff& backoff) {
  using Outcome = WorkResult::Outcome;
  const auto& result = end.result;
  WorkOutcome out;
  out.row = std::move(claim);
  if (result && result->outcome() == Outcome::synced) {
    out.row.outcome = Finish::synced;
    out.event = EventCategory::synced;
    return out;
  }
  if (result && result->outcome() == Outcome::remove) {
    out.row.outcome = Finish::deleted;
    out.event = EventCategory::deleted;
    out.event_error = result->message();
    return out;
  }
  if (result && result->outcome() == Outcome::requeue) {
    out.row.outcome = Finish::requeue;
    out.row.delay_ms = std::max<std::int64_t>(0, result->delay().count());
    return out;
  }
  if (end.flags.shutdown && !end.flags.timed_out) {
    // Interrupted by this client's stop: back to scheduled without using an attempt.
    out.row.outcome = Finish::release;
    return out;
  }
  const auto failure =
      runtime::attempt_failure(std::move(end.failure), result ? &result->message() : nullptr,
                               end.flags.timed_out, end.timeout);
  return failed_outcome(std::move(out.row), attempt, now, failure, backoff);
}

}  // namespace delta::resources
