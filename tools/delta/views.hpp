// What each kind of object delta's admin API returns looks like in the `delta` command:
// its JSON object (field names are part of the command's interface, see docs/cli.md) and
// its table. Tables show times relative to `now`.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <delta/admin.hpp>
#include <delta/jobs.hpp>
#include <delta/resource.hpp>

#include "output.hpp"

namespace delta_cli {

// The states a resource can be in (unknown is reserved and never stored), in order.
inline constexpr std::array kResourceStates{
    delta::ResourceState::scheduled, delta::ResourceState::pending,  delta::ResourceState::synced,
    delta::ResourceState::failed,    delta::ResourceState::degraded, delta::ResourceState::expired,
    delta::ResourceState::deleted};
inline constexpr std::array kJobStates{
    delta::jobs::JobState::available, delta::jobs::JobState::scheduled,
    delta::jobs::JobState::running,   delta::jobs::JobState::retryable,
    delta::jobs::JobState::completed, delta::jobs::JobState::cancelled,
    delta::jobs::JobState::discarded};

// How much of a resource or job a JSON object holds: a listing leaves out the object
// (or args) and the errors, keeping the last error's message.
enum class Detail { summary, full };

// Each of `items` as `to_json` makes it, in a JSON array.
template <class Items, class ToJson>
Json json_rows(const Items& items, ToJson to_json) {
  auto rows = Json::array();
  for (const auto& item : items)
    rows.push_back(to_json(item));
  return rows;
}

// {"rows": [...], "next_cursor": "..." or null}: what every list command prints.
Json listing_json(Json rows, const std::string& next_cursor);

Json resource_json(const delta::ResourceRow& row, Detail detail);
Table resource_table(const std::vector<delta::ResourceRow>& rows, delta::Timestamp now);
// Every field, one per line, then the object and the errors.
std::string resource_details(const delta::ResourceRow& row, delta::Timestamp now);

// One object per count: kind, namespace and state (null unless grouped by), count.
Json count_json(const delta::ResourceCount& count);
// A column per group in `group_by` order, then COUNT.
Table count_table(const std::vector<delta::ResourceCount>& counts,
                  const std::vector<delta::ResourceGroup>& group_by);

Json job_json(const delta::jobs::JobRow& row, Detail detail);
Table job_table(const std::vector<delta::jobs::JobRow>& rows, delta::Timestamp now);
std::string job_details(const delta::jobs::JobRow& row, delta::Timestamp now);

Json queue_json(const delta::QueueInfo& queue);
Table queue_table(const std::vector<delta::QueueInfo>& queues, delta::Timestamp now);

Json controller_json(const delta::ControllerInfo& controller);
Table controller_table(const std::vector<delta::ControllerInfo>& controllers, delta::Timestamp now);

Json namespace_json(const delta::NamespaceInfo& info);
Table namespace_table(const std::vector<delta::NamespaceInfo>& namespaces);

Json client_json(const delta::ClientInfo& client);
Table client_table(const std::vector<delta::ClientInfo>& clients, delta::Timestamp now);

// The status, first the schema's name.
Json status_json(const delta::Status& status, const std::string& schema);
std::string status_text(const delta::Status& status, const std::string& schema,
                        delta::Timestamp now);

}  // namespace delta_cli
