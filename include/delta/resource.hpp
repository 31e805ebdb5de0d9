// Resources: a stored object and its synchronization state.
//
// Every (kind, object id) delta has been told about is one resource row. Its state moves
// through the machine below (docs/resources.md has the full table):
//
//   inform (new/changed) -> scheduled -> claim -> pending -> synced
//                                                         -> failed -> (backoff) -> pending ...
//                                                         -> degraded (max_attempts reached)
//                                                         -> deleted (work returned remove)
//   synced -> expired (namespace TTL or invalidate) -> pending ...
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <delta/attempt.hpp>
#include <delta/export.hpp>
#include <delta/object.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

enum class ResourceState {
  unknown,
  scheduled,
  pending,
  synced,
  failed,
  degraded,
  expired,
  deleted
};
std::string_view to_string(ResourceState state) noexcept;
// Throws ValidationError for a name that is not a state.
ResourceState resource_state_from_string(std::string_view name);

// A resource row as stored.
struct ResourceRow {
  std::int64_t id = 0;
  std::string kind;
  std::string object_id;
  std::string namespace_name;
  ResourceState state = ResourceState::unknown;
  nlohmann::json object;  // the stored object (its JSON form)
  // Bumped each time the content changes; a work outcome for an older generation never
  // marks the resource synced.
  std::int64_t generation = 0;
  int attempt = 0;  // attempts since the content last changed (or the last retry)
  int max_attempts = 10;
  Timestamp run_at;  // when it is runnable (scheduled, failed, expired)
  std::optional<Timestamp> attempted_at;
  std::optional<Timestamp> synced_at;
  Timestamp created_at;
  Timestamp updated_at;
  std::optional<Timestamp> external_created_at;  // the object's created_at()
  std::optional<Timestamp> deleted_at;
  std::optional<std::string> lease_owner;  // the client working it (pending)
  std::optional<Timestamp> lease_expires_at;
  nlohmann::json metadata;
  std::vector<std::string> tags;
  std::vector<AttemptError> errors;
  // The class it is due in while runnable (scheduled, failed, expired): a claim takes
  // fresh before background. Kept once worked (the class of its last scheduling).
  Priority priority = Priority::fresh;
};

// A resource with its object parsed: what a controller's work() receives.
template <Object T>
struct Resource {
  T object;
  ResourceRow row;
};

// What an inform did.
enum class InformStatus {
  inserted,   // a new resource, scheduled
  changed,    // the content changed (or force): generation bumped, scheduled
  unchanged,  // same content: nothing written
  stale,      // the object's compare() says it is older than the stored one: ignored
  // the resource is deleted and an informer run does not resurrect it: ignored
  skipped_deleted,
};
std::string_view to_string(InformStatus status) noexcept;

struct InformResult {
  ResourceRow resource;  // the row after the inform
  InformStatus status = InformStatus::inserted;
  bool already_exists = false;  // the resource existed before this inform
  bool changed = false;         // this inform scheduled work (inserted or changed)
};

// The outcome of inform_many: one status per input object, in input order, and totals.
// When one batch holds the same object twice, the later one wins and both report its
// status.
struct InformManyResult {
  std::vector<InformStatus> statuses;
  std::size_t inserted = 0;
  std::size_t changed = 0;
  std::size_t unchanged = 0;
  std::size_t stale = 0;
  std::size_t skipped_deleted = 0;
};

// Events a client publishes after the outcome is committed (Client::subscribe).
enum class EventCategory { synced, failed, degraded, deleted };
std::string_view to_string(EventCategory category) noexcept;

struct Event {
  EventCategory category = EventCategory::synced;
  ResourceRow resource;  // the row as it was claimed (state pending), with this attempt
  std::string error;     // failed / degraded: the attempt's error; deleted: the reason
};

// Delay before attempt `attempt + 1` after attempt `attempt` failed.
using ResourceBackoff = std::function<std::chrono::milliseconds(int attempt)>;
// The default resource backoff: attempt^4 seconds, ±10% jitter, at most `max_delay`.
ResourceBackoff polynomial_backoff(std::chrono::milliseconds max_delay = std::chrono::hours(24),
                                   std::function<double()> jitter = {});

}  // namespace delta

DELTA_PUBLIC_END
