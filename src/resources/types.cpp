// The value types of the resource API: states, results, controllers.
#include <array>

#include <fmt/format.h>

#include <delta/controller.hpp>
#include <delta/jobs.hpp>
#include <delta/resource.hpp>

#include "common/validate.hpp"

namespace delta {

namespace {
constexpr std::array<std::string_view, 8> kStateNames = {
    "unknown", "scheduled", "pending", "synced", "failed", "degraded", "expired", "deleted"};
}

std::string_view to_string(ResourceState state) noexcept {
  auto index = static_cast<std::size_t>(state);
  return index < kStateNames.size() ? kStateNames[index] : "unknown";
}

ResourceState resource_state_from_string(std::string_view name) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) return static_cast<ResourceState>(i);
  }
  throw ValidationError("state", fmt::format("\"{}\" is not a resource state", name));
}

std::string_view to_string(InformStatus status) noexcept {
  switch (status) {
    case InformStatus::inserted:
      return "inserted";
    case InformStatus::changed:
      return "changed";
    case InformStatus::unchanged:
      return "unchanged";
    case InformStatus::stale:
      return "stale";
    case InformStatus::skipped_deleted:
      return "skipped_deleted";
  }
  return "unchanged";
}

std::string_view to_string(Priority priority) noexcept {
  return priority == Priority::background ? "background" : "fresh";
}

std::string_view to_string(EventCategory category) noexcept {
  switch (category) {
    case EventCategory::synced:
      return "synced";
    case EventCategory::failed:
      return "failed";
    case EventCategory::degraded:
      return "degraded";
    case EventCategory::deleted:
      return "deleted";
  }
  return "synced";
}

WorkResult synced() {
  return WorkResult(WorkResult::Outcome::synced, {}, std::chrono::milliseconds(0));
}
WorkResult retry(std::string message) {
  return WorkResult(WorkResult::Outcome::retry, std::move(message), std::chrono::milliseconds(0));
}
WorkResult remove(std::string reason) {
  return WorkResult(WorkResult::Outcome::remove, std::move(reason), std::chrono::milliseconds(0));
}
WorkResult requeue_after(std::chrono::milliseconds delay) {
  return WorkResult(WorkResult::Outcome::requeue, {}, delay);
}

Controllers& Controllers::add(std::shared_ptr<ControllerBase> controller) {
  if (!controller) throw ConfigError("controllers.add: the controller is null");
  const std::string kind(controller->kind());
  if (auto problem = internal::check_name(kind); !problem.empty()) {
    throw ConfigError(fmt::format("controller kind {}", problem));
  }
  if (find(kind) != nullptr) {
    throw ConfigError(fmt::format("a controller for kind \"{}\" is already registered", kind));
  }
  controllers_.push_back(std::move(controller));
  return *this;
}

std::shared_ptr<ControllerBase> Controllers::find(std::string_view kind) const {
  for (const auto& controller : controllers_) {
    if (controller->kind() == kind) return controller;
  }
  return nullptr;
}

std::vector<std::string> Controllers::kinds() const {
  std::vector<std::string> kinds;
  kinds.reserve(controllers_.size());
  for (const auto& controller : controllers_)
    kinds.emplace_back(controller->kind());
  return kinds;
}

ResourceBackoff polynomial_backoff(std::chrono::milliseconds max_delay,
                                   std::function<double()> jitter) {
  // The same curve as the job queue's default: attempt^4 s, ±10%.
  auto policy = jobs::exponential_backoff(max_delay, std::move(jitter));
  return [policy](int attempt) {
    jobs::JobRow row;
    row.attempt = attempt;
    return policy->next_retry(row);
  };
}

}  // namespace delta
