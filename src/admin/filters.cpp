#include "admin/filters.hpp"

#include <fmt/format.h>

#include <delta/errors.hpp>

#include "common/validate.hpp"

namespace delta::admin {

namespace {

constexpr std::size_t kMaxIdPrefix = 254;

// Throws ValidationError("<field>", ...) for the first value `problem_of` finds wrong.
template <class Check>
void check_each(std::string_view field, const std::vector<std::string>& values, Check problem_of) {
  for (const auto& value : values) {
    if (auto problem = problem_of(value); !problem.empty()) {
      throw ValidationError(std::string(field), problem);
    }
  }
}

void check_range(std::string_view field, const TimeRange& range) {
  if (range.from && range.to && *range.to < *range.from) {
    throw ValidationError(std::string(field), fmt::format("{} ends before it starts", field));
  }
}

std::vector<std::string> names(const std::vector<ResourceState>& states) {
  std::vector<std::string> out;
  for (auto state : states)
    out.emplace_back(to_string(state));
  return out;
}

std::vector<std::string> names(const std::vector<jobs::JobState>& states) {
  std::vector<std::string> out;
  for (auto state : states)
    out.emplace_back(to_string(state));
  return out;
}

}  // namespace

void check(const ResourceFilter& filter) {
  check_each("kind", filter.kinds, internal::check_name);
  check_each("namespace", filter.namespaces, internal::check_name);
  check_each("id", filter.object_ids, internal::check_object_id);
  check_each("tag", filter.tags_any, internal::check_tag);
  check_each("tag", filter.tags_all, internal::check_tag);
  if (filter.id_prefix.size() > kMaxIdPrefix) {
    throw ValidationError("id_prefix", fmt::format("id_prefix is longer than an id can be ({} "
                                                   "characters)",
                                                   kMaxIdPrefix));
  }
  check_range("attempted", filter.attempted);
  check_range("synced", filter.synced);
}

void check(const JobFilter& filter) {
  check_each("queue", filter.queues, internal::check_name);
  // Job kinds are 1 to 128 characters (delta's own informer jobs are delta.inform:<kind>).
  check_each("kind", filter.kinds, [](const std::string& kind) {
    return kind.empty() || kind.size() > 128 ? std::string("a job kind is 1 to 128 characters")
                                             : std::string();
  });
  for (auto id : filter.ids) {
    if (id < 1) throw ValidationError("id", fmt::format("job ids are positive (got {})", id));
  }
}

pg::Params resource_params(const ResourceFilter& filter) {
  pg::Params params;
  params.add(filter.kinds)
      .add(filter.namespaces)
      .add(names(filter.states))
      .add(filter.object_ids)
      .add(filter.id_prefix)
      .add(filter.tags_any)
      .add(filter.tags_all)
      .add(filter.attempted.from)
      .add(filter.attempted.to)
      .add(filter.synced.from)
      .add(filter.synced.to);
  return params;
}

pg::Params job_params(const JobFilter& filter) {
  pg::Params params;
  params.add(filter.queues).add(filter.kinds).add(names(filter.states)).add(filter.ids);
  return params;
}

}  // namespace delta::admin
