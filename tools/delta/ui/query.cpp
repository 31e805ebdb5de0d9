#include "ui/query.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include <delta/jobs.hpp>
#include <delta/resource.hpp>

namespace delta_ui {

namespace {

constexpr std::array kResourceStates{"scheduled", "pending", "synced", "failed",
                                     "degraded",  "expired", "deleted"};
constexpr std::array kJobStates{"available", "scheduled", "running",  "retryable",
                                "completed", "cancelled", "discarded"};

// Every value of `name`, split at commas, blanks dropped.
std::vector<std::string> values(const Fields& fields, const std::string& name) {
  std::vector<std::string> out;
  const auto [first, last] = fields.equal_range(name);
  for (auto field = first; field != last; ++field) {
    std::string_view rest = field->second;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      auto item = rest.substr(0, comma);
      while (!item.empty() && item.front() == ' ')
        item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ')
        item.remove_suffix(1);
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

template <std::size_t N>
void check_states(const std::vector<std::string>& states, const std::array<const char*, N>& known,
                  std::string_view what) {
  for (const auto& state : states) {
    if (std::find_if(known.begin(), known.end(), [&](const char* name) { return state == name; }) ==
        known.end()) {
      throw BadRequest(fmt::format("state: \"{}\" is not a {} state (one of {})", state, what,
                                   fmt::join(known, ", ")));
    }
  }
}

void check_fields(const Fields& fields, const std::set<std::string>& known,
                  const std::vector<std::string>& ignored) {
  for (const auto& [name, value] : fields) {
    if (known.count(name) == 0 && std::find(ignored.begin(), ignored.end(), name) == ignored.end())
      throw BadRequest(fmt::format("unknown field \"{}\"", name));
  }
}

int parse_limit(const Fields& fields, int default_limit) {
  const auto text = single(fields, "limit");
  if (text.empty()) return default_limit;
  int limit = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (error != std::errc() || end != text.data() + text.size() || limit < 1 || limit > 1000) {
    throw BadRequest(fmt::format("limit: \"{}\" is not a whole number from 1 to 1000", text));
  }
  return limit;
}

bool parse_order(const Fields& fields) {
  const auto order = single(fields, "order");
  if (order.empty() || order == "newest") return false;
  if (order == "oldest") return true;
  throw BadRequest(fmt::format("order: \"{}\" is neither newest nor oldest", order));
}

std::string joined(const std::vector<std::string>& items) {
  return fmt::format("{}", fmt::join(items, ","));
}

}  // namespace

std::string single(const Fields& fields, const std::string& name) {
  if (fields.count(name) > 1) throw BadRequest(fmt::format("{}: given more than once", name));
  const auto found = fields.find(name);
  return found == fields.end() ? std::string() : found->second;
}

std::int64_t positive_id(const Fields& fields, const std::string& name) {
  const auto text = single(fields, name);
  std::int64_t id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || id < 1) {
    throw BadRequest(fmt::format("{}: \"{}\" is not a positive whole number", name, text));
  }
  return id;
}

bool ResourceQuery::filtered() const {
  return !kinds.empty() || !namespaces.empty() || !states.empty() || !tags_any.empty() ||
         !tags_all.empty() || !id_prefix.empty();
}

delta::ResourceFilter ResourceQuery::filter() const {
  delta::ResourceFilter filter;
  filter.kinds = kinds;
  filter.namespaces = namespaces;
  for (const auto& state : states)
    filter.states.push_back(delta::resource_state_from_string(state));
  filter.id_prefix = id_prefix;
  filter.tags_any = tags_any;
  filter.tags_all = tags_all;
  return filter;
}

delta::Page PageQuery::page() const {
  return {.limit = limit,
          .cursor = cursor,
          .order = oldest_first ? delta::SortOrder::oldest_first : delta::SortOrder::newest_first};
}

html::Params PageQuery::with_page(html::Params params) const {
  params.emplace_back("limit", std::to_string(limit));
  if (oldest_first) params.emplace_back("order", "oldest");
  return params;
}

namespace {

void parse_page(const Fields& fields, int default_limit, PageQuery& query) {
  query.cursor = single(fields, "cursor");
  query.limit = parse_limit(fields, default_limit);
  query.oldest_first = parse_order(fields);
}

}  // namespace

html::Params ResourceQuery::filter_params() const {
  return {{"kind", joined(kinds)},   {"namespace", joined(namespaces)}, {"state", joined(states)},
          {"tag", joined(tags_any)}, {"all_tags", joined(tags_all)},    {"id_prefix", id_prefix}};
}

ResourceQuery parse_resource_query(const Fields& fields, int default_limit,
                                   const std::vector<std::string>& ignored) {
  check_fields(
      fields,
      {"kind", "namespace", "state", "tag", "all_tags", "id_prefix", "cursor", "limit", "order"},
      ignored);
  ResourceQuery query;
  query.kinds = values(fields, "kind");
  query.namespaces = values(fields, "namespace");
  query.states = values(fields, "state");
  check_states(query.states, kResourceStates, "resource");
  query.tags_any = values(fields, "tag");
  query.tags_all = values(fields, "all_tags");
  query.id_prefix = single(fields, "id_prefix");
  parse_page(fields, default_limit, query);
  return query;
}

delta::JobFilter JobQuery::filter() const {
  delta::JobFilter filter;
  filter.queues = queues;
  filter.kinds = kinds;
  for (const auto& state : states)
    filter.states.push_back(delta::jobs::job_state_from_string(state));
  return filter;
}

html::Params JobQuery::filter_params() const {
  return {{"queue", joined(queues)}, {"kind", joined(kinds)}, {"state", joined(states)}};
}

JobQuery parse_job_query(const Fields& fields, int default_limit,
                         const std::vector<std::string>& ignored) {
  check_fields(fields, {"queue", "kind", "state", "cursor", "limit", "order"}, ignored);
  JobQuery query;
  query.queues = values(fields, "queue");
  query.kinds = values(fields, "kind");
  query.states = values(fields, "state");
  check_states(query.states, kJobStates, "job");
  parse_page(fields, default_limit, query);
  return query;
}

}  // namespace delta_ui
