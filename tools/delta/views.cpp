#include "views.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace delta_cli {

namespace {

using delta::ResourceState;
using delta::jobs::JobState;

std::string upper(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(), [](char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  });
  return result;
}

// Resources per state, every state present.
std::map<ResourceState, std::int64_t> per_state(const std::vector<delta::ResourceCount>& counts) {
  std::map<ResourceState, std::int64_t> result;
  for (auto state : kResourceStates)
    result[state] = 0;
  for (const auto& count : counts) {
    if (count.state) result[*count.state] += count.count;
  }
  return result;
}

std::map<JobState, std::int64_t> per_state(const std::vector<delta::JobStateCount>& counts) {
  std::map<JobState, std::int64_t> result;
  for (auto state : kJobStates)
    result[state] = 0;
  for (const auto& count : counts)
    result[count.state] += count.count;
  return result;
}

template <class State>
Json states_json(const std::map<State, std::int64_t>& counts) {
  auto json = Json::object();
  for (const auto& [state, count] : counts)
    json[std::string(to_string(state))] = count;
  return json;
}

template <class State>
std::int64_t total_of(const std::map<State, std::int64_t>& counts) {
  std::int64_t total = 0;
  for (const auto& [state, count] : counts)
    total += count;
  return total;
}

// "synced 10, failed 2": the states that have resources ("-" for none).
std::string states_cell(const std::map<ResourceState, std::int64_t>& counts) {
  std::vector<std::string> parts;
  for (const auto& [state, count] : counts) {
    if (count > 0) parts.push_back(fmt::format("{} {}", to_string(state), count));
  }
  return joined(parts);
}

// `first`, then a column per state.
template <class State, std::size_t N>
std::vector<Column> state_columns(std::vector<Column> first, const std::array<State, N>& states) {
  for (auto state : states)
    first.push_back({upper(to_string(state)), Align::right});
  return first;
}

template <class State>
void add_state_cells(std::vector<std::string>& cells, const std::map<State, std::int64_t>& counts) {
  for (const auto& [state, count] : counts)
    cells.push_back(std::to_string(count));
}

const delta::AttemptError* last_error(const std::vector<delta::AttemptError>& errors) {
  const auto found = std::max_element(
      errors.begin(), errors.end(),
      [](const delta::AttemptError& a, const delta::AttemptError& b) { return a.at < b.at; });
  return found == errors.end() ? nullptr : &*found;
}

Json last_error_json(const std::vector<delta::AttemptError>& errors) {
  const auto* error = last_error(errors);
  return error ? Json(error->error) : Json(nullptr);
}

std::string last_error_cell(const std::vector<delta::AttemptError>& errors) {
  const auto* error = last_error(errors);
  return error ? error->error : std::string("-");
}

Json errors_json(const std::vector<delta::AttemptError>& errors) {
  auto json = Json::array();
  for (const auto& error : errors) {
    json.push_back({{"attempt", error.attempt},
                    {"at", rfc3339(error.at)},
                    {"error", error.error},
                    {"type", error.type}});
  }
  return json;
}

// Free-form data stored as a JSON object: {} when there is none.
Json object_json(const nlohmann::json& value) {
  return value.is_null() ? Json::object() : Json(value);
}

std::string attempts_cell(int attempt, int max_attempts) {
  return fmt::format("{}/{}", attempt, max_attempts);
}

// "2026-11-28T00:27:28.123456Z (3 min ago)", or "-".
std::string time_detail(const std::optional<delta::Timestamp>& time, delta::Timestamp now) {
  return time ? fmt::format("{} ({})", rfc3339(*time), ago(time, now)) : std::string("-");
}

// A detail view: aligned "name  value" lines, then each block (a title and its lines,
// indented by two).
struct Details {
  Table fields{{{""}, {""}}};
  std::string blocks;

  void add(std::string name, std::string value) { fields.add({std::move(name), std::move(value)}); }
  void block(const std::string& title, const std::string& text) {
    blocks += "\n" + title + "\n";
    std::string::size_type start = 0;
    while (start < text.size()) {
      const auto end = text.find('\n', start);
      const auto line = text.substr(start, end == std::string::npos ? end : end - start);
      blocks += line.empty() ? "\n" : "  " + line + "\n";
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  void json_block(const std::string& title, const Json& value) {
    block(title, value.dump(2, ' ', false, Json::error_handler_t::replace));
  }
  void errors_block(const std::vector<delta::AttemptError>& errors) {
    if (errors.empty()) {
      block("errors", "none");
      return;
    }
    Table table({{"ATTEMPT", Align::right}, {"AT"}, {"TYPE"}, {"ERROR"}});
    for (const auto& error : errors) {
      table.add({std::to_string(error.attempt), rfc3339(error.at), error.type, error.error});
    }
    block("errors", table.render());
  }
  std::string render() const { return fields.render() + blocks; }
};

}  // namespace

Json listing_json(Json rows, const std::string& next_cursor) {
  return {{"rows", std::move(rows)},
          {"next_cursor", next_cursor.empty() ? Json(nullptr) : Json(next_cursor)}};
}

// ---- resources ----

Json resource_json(const delta::ResourceRow& row, Detail detail) {
  Json json{
      {"id", row.id},
      {"kind", row.kind},
      {"object_id", row.object_id},
      {"namespace", row.namespace_name},
      {"state", delta::to_string(row.state)},
      {"generation", row.generation},
      {"attempt", row.attempt},
      {"max_attempts", row.max_attempts},
      {"run_at", rfc3339(row.run_at)},
      {"priority", delta::to_string(row.priority)},
      {"attempted_at", json_time(row.attempted_at)},
      {"synced_at", json_time(row.synced_at)},
      {"created_at", rfc3339(row.created_at)},
      {"updated_at", rfc3339(row.updated_at)},
      {"external_created_at", json_time(row.external_created_at)},
      {"deleted_at", json_time(row.deleted_at)},
      {"lease_owner", json_text(row.lease_owner)},
      {"lease_expires_at", json_time(row.lease_expires_at)},
      {"tags", row.tags},
      {"metadata", object_json(row.metadata)},
      {"last_error", last_error_json(row.errors)},
  };
  if (detail == Detail::full) {
    json["object"] = row.object;
    json["errors"] = errors_json(row.errors);
  }
  return json;
}

Table resource_table(const std::vector<delta::ResourceRow>& rows, delta::Timestamp now) {
  Table table({{"KIND"},
               {"ID", Align::left, 40},
               {"NAMESPACE"},
               {"STATE"},
               {"ATTEMPT", Align::right},
               {"RUN AT"},
               {"UPDATED"},
               {"LAST ERROR", Align::left, 50}});
  for (const auto& row : rows) {
    table.add({row.kind, row.object_id, row.namespace_name,
               std::string(delta::to_string(row.state)),
               attempts_cell(row.attempt, row.max_attempts), ago(row.run_at, now),
               ago(row.updated_at, now), last_error_cell(row.errors)});
  }
  return table;
}

std::string resource_details(const delta::ResourceRow& row, delta::Timestamp now) {
  Details details;
  details.add("kind", row.kind);
  details.add("object id", row.object_id);
  details.add("id", std::to_string(row.id));
  details.add("namespace", row.namespace_name);
  details.add("state", std::string(delta::to_string(row.state)));
  details.add("generation", std::to_string(row.generation));
  details.add("attempt", fmt::format("{} of {}", row.attempt, row.max_attempts));
  details.add("run at", time_detail(row.run_at, now));
  details.add("priority", std::string(delta::to_string(row.priority)));
  details.add("attempted at", time_detail(row.attempted_at, now));
  details.add("synced at", time_detail(row.synced_at, now));
  details.add("created at", time_detail(row.created_at, now));
  details.add("updated at", time_detail(row.updated_at, now));
  details.add("external created at", time_detail(row.external_created_at, now));
  details.add("deleted at", time_detail(row.deleted_at, now));
  details.add("lease owner", or_dash(row.lease_owner));
  details.add("lease expires at", time_detail(row.lease_expires_at, now));
  details.add("tags", joined(row.tags));
  details.add("metadata", json_cell(row.metadata));
  details.json_block("object", row.object);
  details.errors_block(row.errors);
  return details.render();
}

Json count_json(const delta::ResourceCount& count) {
  return {{"kind", json_text(count.kind)},
          {"namespace", json_text(count.namespace_name)},
          {"state", count.state ? Json(delta::to_string(*count.state)) : nullptr},
          {"count", count.count}};
}

Table count_table(const std::vector<delta::ResourceCount>& counts,
                  const std::vector<delta::ResourceGroup>& group_by) {
  std::vector<Column> columns;
  for (auto group : group_by)
    columns.push_back({upper(delta::to_string(group))});
  columns.push_back({"COUNT", Align::right});
  Table table(std::move(columns));
  for (const auto& count : counts) {
    std::vector<std::string> cells;
    for (auto group : group_by) {
      switch (group) {
        case delta::ResourceGroup::kind:
          cells.push_back(or_dash(count.kind));
          break;
        case delta::ResourceGroup::namespace_name:
          cells.push_back(or_dash(count.namespace_name));
          break;
        case delta::ResourceGroup::state:
          cells.push_back(count.state ? std::string(delta::to_string(*count.state)) : "-");
          break;
      }
    }
    cells.push_back(std::to_string(count.count));
    table.add(std::move(cells));
  }
  return table;
}

// ---- jobs and queues ----

Json job_json(const delta::jobs::JobRow& row, Detail detail) {
  Json json{
      {"id", row.id},
      {"kind", row.kind},
      {"queue", row.queue},
      {"state", delta::jobs::to_string(row.state)},
      {"priority", row.priority},
      {"attempt", row.attempt},
      {"max_attempts", row.max_attempts},
      {"attempted_at", json_time(row.attempted_at)},
      {"attempted_by", json_text(row.attempted_by)},
      {"created_at", rfc3339(row.created_at)},
      {"scheduled_at", rfc3339(row.scheduled_at)},
      {"finalized_at", json_time(row.finalized_at)},
      {"tags", row.tags},
      {"metadata", object_json(row.metadata)},
      {"last_error", last_error_json(row.errors)},
  };
  if (detail == Detail::full) {
    json["args"] = row.args;
    json["errors"] = errors_json(row.errors);
  }
  return json;
}

Table job_table(const std::vector<delta::jobs::JobRow>& rows, delta::Timestamp now) {
  Table table({{"ID", Align::right},
               {"QUEUE"},
               {"KIND"},
               {"STATE"},
               {"PRIORITY", Align::right},
               {"ATTEMPT", Align::right},
               {"CREATED"},
               {"SCHEDULED"},
               {"LAST ERROR", Align::left, 50}});
  for (const auto& row : rows) {
    table.add({std::to_string(row.id), row.queue, row.kind,
               std::string(delta::jobs::to_string(row.state)), std::to_string(row.priority),
               attempts_cell(row.attempt, row.max_attempts), ago(row.created_at, now),
               ago(row.scheduled_at, now), last_error_cell(row.errors)});
  }
  return table;
}

std::string job_details(const delta::jobs::JobRow& row, delta::Timestamp now) {
  Details details;
  details.add("id", std::to_string(row.id));
  details.add("kind", row.kind);
  details.add("queue", row.queue);
  details.add("state", std::string(delta::jobs::to_string(row.state)));
  details.add("priority", std::to_string(row.priority));
  details.add("attempt", fmt::format("{} of {}", row.attempt, row.max_attempts));
  details.add("attempted at", time_detail(row.attempted_at, now));
  details.add("attempted by", or_dash(row.attempted_by));
  details.add("created at", time_detail(row.created_at, now));
  details.add("scheduled at", time_detail(row.scheduled_at, now));
  details.add("finalized at", time_detail(row.finalized_at, now));
  details.add("tags", joined(row.tags));
  details.add("metadata", json_cell(row.metadata));
  details.json_block("args", row.args);
  details.errors_block(row.errors);
  return details.render();
}

Json queue_json(const delta::QueueInfo& queue) {
  const auto states = per_state(queue.states);
  return {{"name", queue.name},
          {"paused", queue.paused_at.has_value()},
          {"paused_at", json_time(queue.paused_at)},
          {"states", states_json(states)},
          {"total", total_of(states)},
          {"oldest_available_age_ms", json_ms(queue.oldest_available_age)},
          {"limits", limits_info_json(queue.limits)}};
}

Table queue_table(const std::vector<delta::QueueInfo>& queues, delta::Timestamp now) {
  auto columns = state_columns({{"QUEUE"}, {"PAUSED"}}, kJobStates);
  columns.push_back({"OLDEST WAITING"});
  columns.push_back({"LIMITS", Align::left, 40});
  Table table(std::move(columns));
  for (const auto& queue : queues) {
    std::vector<std::string> cells{queue.name, ago(queue.paused_at, now)};
    add_state_cells(cells, per_state(queue.states));
    cells.push_back(human_duration(queue.oldest_available_age));
    cells.push_back(limits_cell(queue.limits));
    table.add(std::move(cells));
  }
  return table;
}

// ---- controllers, namespaces, clients ----

namespace {

Json inform_counts_json(const std::optional<delta::InformCounts>& counts) {
  if (!counts) return nullptr;
  return {{"emitted", counts->emitted}, {"inserted", counts->inserted},
          {"changed", counts->changed}, {"unchanged", counts->unchanged},
          {"stale", counts->stale},     {"skipped_deleted", counts->skipped_deleted}};
}

// "1200 emitted: 3 new, 10 changed, 1187 same" (parts that are 0 left out), or "-".
std::string inform_counts_cell(const std::optional<delta::InformCounts>& counts) {
  if (!counts) return "-";
  std::string cell = fmt::format("{} emitted", counts->emitted);
  const std::pair<std::int64_t, const char*> parts[] = {{counts->inserted, "new"},
                                                        {counts->changed, "changed"},
                                                        {counts->unchanged, "same"},
                                                        {counts->stale, "stale"},
                                                        {counts->skipped_deleted, "deleted"}};
  const char* separator = ": ";
  for (const auto& [count, what] : parts) {
    if (count == 0) continue;
    cell += fmt::format("{}{} {}", separator, count, what);
    separator = ", ";
  }
  return cell;
}

}  // namespace

Json controller_json(const delta::ControllerInfo& controller) {
  const auto states = per_state(controller.states);
  return {{"kind", controller.kind},
          {"inform_interval_ms", json_ms(controller.inform_interval)},
          {"cursor", json_time(controller.cursor)},
          {"last_inform_started_at", json_time(controller.last_inform_started_at)},
          {"last_inform_finished_at", json_time(controller.last_inform_finished_at)},
          {"last_inform_error", json_text(controller.last_inform_error)},
          {"last_inform", inform_counts_json(controller.last_inform_counts)},
          {"next_inform_at", json_time(controller.next_inform_at)},
          {"clients", controller.clients},
          {"paused", controller.paused_at.has_value()},
          {"paused_at", json_time(controller.paused_at)},
          {"limits", limits_info_json(controller.limits)},
          {"states", states_json(states)},
          {"total", total_of(states)}};
}

Table controller_table(const std::vector<delta::ControllerInfo>& controllers,
                       delta::Timestamp now) {
  Table table({{"KIND"},
               {"CLIENTS", Align::right},
               {"PAUSED"},
               {"INFORM EVERY"},
               {"LAST INFORM"},
               {"WROTE", Align::left, 50},
               {"NEXT INFORM"},
               {"RESOURCES", Align::right},
               {"STATES", Align::left, 60},
               {"LIMITS", Align::left, 40},
               {"INFORM ERROR", Align::left, 40}});
  for (const auto& controller : controllers) {
    const auto states = per_state(controller.states);
    table.add({controller.kind, std::to_string(controller.clients), ago(controller.paused_at, now),
               controller.inform_interval ? human_duration(controller.inform_interval) : "never",
               ago(controller.last_inform_finished_at, now),
               inform_counts_cell(controller.last_inform_counts),
               ago(controller.next_inform_at, now), std::to_string(total_of(states)),
               states_cell(states), limits_cell(controller.limits),
               or_dash(controller.last_inform_error)});
  }
  return table;
}

Json namespace_json(const delta::NamespaceInfo& info) {
  const auto states = per_state(info.states);
  return {{"name", info.name},
          {"expiry_ttl_ms", json_ms(info.expiry_ttl)},
          {"synced_retention_ms", json_ms(info.synced_retention)},
          {"deleted_retention_ms", json_ms(info.deleted_retention)},
          {"degraded_retention_ms", json_ms(info.degraded_retention)},
          {"limits", limits_info_json(info.limits)},
          {"states", states_json(states)},
          {"total", total_of(states)}};
}

Table namespace_table(const std::vector<delta::NamespaceInfo>& namespaces) {
  Table table({{"NAMESPACE"},
               {"EXPIRY"},
               {"KEEP SYNCED"},
               {"KEEP DELETED"},
               {"KEEP DEGRADED"},
               {"RESOURCES", Align::right},
               {"STATES", Align::left, 60},
               {"LIMITS", Align::left, 40}});
  const auto kept = [](const std::optional<std::chrono::milliseconds>& retention) {
    return retention ? human_duration(retention) : std::string("forever");
  };
  for (const auto& info : namespaces) {
    const auto states = per_state(info.states);
    table.add({info.name, info.expiry_ttl ? human_duration(info.expiry_ttl) : "never",
               kept(info.synced_retention), kept(info.deleted_retention),
               kept(info.degraded_retention), std::to_string(total_of(states)), states_cell(states),
               limits_cell(info.limits)});
  }
  return table;
}

Json client_json(const delta::ClientInfo& client) {
  return {{"id", client.id},
          {"hostname", client.hostname},
          {"pid", client.pid},
          {"started_at", rfc3339(client.started_at)},
          {"heartbeat_at", rfc3339(client.heartbeat_at)},
          {"leader", client.leader},
          {"resources_held", client.resources_held},
          {"jobs_held", client.jobs_held},
          {"metadata", object_json(client.metadata)}};
}

Table client_table(const std::vector<delta::ClientInfo>& clients, delta::Timestamp now) {
  Table table({{"ID", Align::left, 48},
               {"HOST"},
               {"PID", Align::right},
               {"LEADER"},
               {"STARTED"},
               {"HEARTBEAT"},
               {"RESOURCES", Align::right},
               {"JOBS", Align::right},
               {"SERVES", Align::left, 60}});
  for (const auto& client : clients) {
    table.add({client.id, client.hostname, std::to_string(client.pid), client.leader ? "yes" : "-",
               ago(client.started_at, now), ago(client.heartbeat_at, now),
               std::to_string(client.resources_held), std::to_string(client.jobs_held),
               json_cell(client.metadata)});
  }
  return table;
}

// ---- status ----

namespace {

// Status::resources (per kind x state) by kind.
std::map<std::string, std::vector<delta::ResourceCount>> by_kind(
    const std::vector<delta::ResourceCount>& counts) {
  std::map<std::string, std::vector<delta::ResourceCount>> result;
  for (const auto& count : counts)
    result[count.kind.value_or("")].push_back(count);
  return result;
}

}  // namespace

Json status_json(const delta::Status& status, const std::string& schema) {
  auto resources = Json::array();
  for (const auto& [kind, counts] : by_kind(status.resources)) {
    const auto states = per_state(counts);
    resources.push_back(
        {{"kind", kind}, {"states", states_json(states)}, {"total", total_of(states)}});
  }
  return {{"schema", schema},
          {"schema_version", status.schema_version},
          {"latest_schema_version", status.latest_schema_version},
          {"leader", json_text(status.leader)},
          {"resource_lag_ms", json_ms(status.resource_lag)},
          {"job_lag_ms", json_ms(status.job_lag)},
          {"resources", std::move(resources)},
          {"queues", json_rows(status.queues, queue_json)},
          {"clients", json_rows(status.clients, client_json)}};
}

std::string status_text(const delta::Status& status, const std::string& schema,
                        delta::Timestamp now) {
  Details summary;
  summary.add("schema", fmt::format("{} (version {} of {})", schema, status.schema_version,
                                    status.latest_schema_version));
  summary.add("leader", or_dash(status.leader));
  summary.add("clients", std::to_string(status.clients.size()));
  summary.add("resource lag", human_duration(status.resource_lag));
  summary.add("job lag", human_duration(status.job_lag));
  std::string text = summary.render();

  if (!status.resources.empty()) {
    Table resources(state_columns({{"KIND"}}, kResourceStates));
    for (const auto& [kind, counts] : by_kind(status.resources)) {
      std::vector<std::string> cells{kind};
      add_state_cells(cells, per_state(counts));
      resources.add(std::move(cells));
    }
    text += "\n" + resources.render();
  }
  if (!status.queues.empty()) text += "\n" + queue_table(status.queues, now).render();
  if (!status.clients.empty()) text += "\n" + client_table(status.clients, now).render();
  return text;
}

}  // namespace delta_cli
