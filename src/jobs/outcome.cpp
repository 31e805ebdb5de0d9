#include "jobs/outcome.hpp"

#include <algorithm>

namespace delta::jobs {

JobOutcome attempt_outcome(const JobRow& job, const std::string& client_id,
                           std::optional<Timestamp> now, AttemptEnd end,
                           const std::function<std::chrono::milliseconds()>& retry_delay,
                           const std::function<void(const std::string&)>& retry_delay_failed) {
  JobOutcome out;
  Completion& completion = out.completion;
  completion.id = job.id;
  completion.attempt = job.attempt;
  completion.attempted_by = client_id;
  const auto& result = end.result;
  const auto& flags = end.flags;
  auto finish = [&](JobState state, std::optional<JobEventKind> event, std::string error = {}) {
    completion.state = state;
    out.event = event;
    out.event_error = std::move(error);
    return std::move(out);
  };

  if (result && result->outcome() == JobResult::Outcome::complete) {
    return finish(JobState::completed, JobEventKind::completed);
  }
  if (result && result->outcome() == JobResult::Outcome::snooze) {
    const auto delay = result->snooze_for();
    completion.delay_ms = std::max<std::int64_t>(0, delay.count());
    completion.give_back_attempt = true;
    return finish(delay.count() > 0 ? JobState::scheduled : JobState::available,
                  JobEventKind::snoozed);
  }
  if (result && result->outcome() == JobResult::Outcome::cancel) {
    completion.error = runtime::error_entry(job.attempt, now, result->message(), "cancel");
    return finish(JobState::cancelled, JobEventKind::cancelled, result->message());
  }
  if (flags.cancelled) {
    // An operator cancelled the job while it ran (Jobs::cancel).
    const std::string message = "cancelled while running";
    completion.error = runtime::error_entry(job.attempt, now, message, "cancel");
    return finish(JobState::cancelled, JobEventKind::cancelled, message);
  }
  if (flags.shutdown && !flags.timed_out) {
    // Interrupted by this client's stop: back to available without using an attempt.
    completion.delay_ms = 0;
    completion.give_back_attempt = true;
    return finish(JobState::available, std::nullopt);
  }
  auto [message, type] = runtime::attempt_failure(
      std::move(end.failure), result ? &result->message() : nullptr, flags.timed_out, end.timeout);
  completion.error = runtime::error_entry(job.attempt, now, message, type);
  if (job.attempt >= job.max_attempts) {
    return finish(JobState::discarded, JobEventKind::discarded, message);
  }
  std::chrono::milliseconds delay{0};
  try {
    delay = retry_delay();
  } catch (const std::exception& e) {
    retry_delay_failed(e.what());
    delay = std::chrono::seconds(1);
  }
  completion.delay_ms = std::max<std::int64_t>(0, delay.count());
  return finish(JobState::retryable, JobEventKind::failed, message);
}

}  // namespace delta::jobs
