// The value types of <delta/jobs.hpp>.
#include <cmath>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include <delta/jobs.hpp>

#include "common/validate.hpp"

namespace delta::jobs {

namespace {
constexpr std::string_view kStateNames[] = {"available", "scheduled", "running",  "retryable",
                                            "completed", "cancelled", "discarded"};
}

std::string_view to_string(JobState state) noexcept {
  return kStateNames[static_cast<std::size_t>(state)];
}

JobState job_state_from_string(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kStateNames); ++i) {
    if (kStateNames[i] == name) return static_cast<JobState>(i);
  }
  throw ValidationError("state", fmt::format("\"{}\" is not a job state", name));
}

std::string_view to_string(JobEventKind kind) noexcept {
  switch (kind) {
    case JobEventKind::completed:
      return "completed";
    case JobEventKind::failed:
      return "failed";
    case JobEventKind::cancelled:
      return "cancelled";
    case JobEventKind::discarded:
      return "discarded";
    case JobEventKind::snoozed:
      return "snoozed";
  }
  return "?";
}

JobResult complete() {
  return {JobResult::Outcome::complete, {}, {}};
}
JobResult retry(std::string message) {
  return {JobResult::Outcome::retry, std::move(message), {}};
}
JobResult cancel(std::string reason) {
  return {JobResult::Outcome::cancel, std::move(reason), {}};
}
JobResult snooze(std::chrono::milliseconds duration) {
  return {JobResult::Outcome::snooze, {}, duration};
}

Workers& Workers::add(std::shared_ptr<WorkerBase> worker) {
  if (!worker) throw ConfigError("workers.add: the worker is null");
  const std::string kind(worker->kind());
  // delta's own job kinds ("delta.inform:<kind>") are outside the user's name space.
  constexpr std::string_view kInternal = "delta.inform:";
  const std::string_view checked =
      kind.starts_with(kInternal) ? std::string_view(kind).substr(kInternal.size()) : kind;
  if (auto problem = internal::check_name(checked); !problem.empty()) {
    throw ConfigError(fmt::format("worker kind {}", problem));
  }
  if (find(kind) != nullptr) {
    throw ConfigError(fmt::format("a worker for kind \"{}\" is already registered", kind));
  }
  workers_.push_back(std::move(worker));
  return *this;
}

const std::shared_ptr<WorkerBase>* Workers::find(std::string_view kind) const {
  for (const auto& worker : workers_) {
    if (worker->kind() == kind) return &worker;
  }
  return nullptr;
}

std::vector<std::string> Workers::kinds() const {
  std::vector<std::string> kinds;
  for (const auto& worker : workers_)
    kinds.emplace_back(worker->kind());
  return kinds;
}

namespace {
class ExponentialBackoff final : public RetryPolicy {
 public:
  ExponentialBackoff(std::chrono::milliseconds max_delay, std::function<double()> jitter)
      : max_delay_(max_delay), jitter_(std::move(jitter)) {}

  std::chrono::milliseconds next_retry(const JobRow& job) override {
    const double attempt = std::max(1, job.attempt);
    const double base_ms = std::pow(attempt, 4.0) * 1000.0;
    const double factor = 1.0 + 0.1 * std::clamp(draw(), -1.0, 1.0);
    const double delay = std::min(base_ms * factor, static_cast<double>(max_delay_.count()));
    return std::chrono::milliseconds(static_cast<std::int64_t>(delay));
  }

 private:
  double draw() {
    if (jitter_) return jitter_();
    std::lock_guard lock(mutex_);
    return std::uniform_real_distribution<double>(-1.0, 1.0)(random_);
  }

  std::chrono::milliseconds max_delay_;
  std::function<double()> jitter_;
  std::mutex mutex_;
  std::mt19937_64 random_{std::random_device{}()};  // guarded by mutex_
};
}  // namespace

std::shared_ptr<RetryPolicy> exponential_backoff(std::chrono::milliseconds max_delay,
                                                 std::function<double()> jitter) {
  return std::make_shared<ExponentialBackoff>(max_delay, std::move(jitter));
}

}  // namespace delta::jobs
