#include "jobs/validate_insert.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/validate.hpp"

namespace delta::jobs {

void validate_insert(const JobInsert& job, const std::string& where) {
  auto field = [&](std::string_view name) {
    return where.empty() ? std::string(name) : where + "." + std::string(name);
  };
  if (auto problem = internal::check_name(job.kind); !problem.empty()) {
    throw ValidationError(field("kind"), problem);
  }
  const InsertOpts& opts = job.opts;
  if (auto problem = internal::check_name(opts.queue); !problem.empty()) {
    throw ValidationError(field("queue"), problem);
  }
  if (opts.priority < 1 || opts.priority > 4) {
    throw ValidationError(field("priority"),
                          fmt::format("{} is not in 1 (highest) .. 4", opts.priority));
  }
  if (opts.max_attempts < 1 || opts.max_attempts > 32767) {
    throw ValidationError(field("max_attempts"),
                          fmt::format("{} is not in 1 .. 32767", opts.max_attempts));
  }
  for (std::size_t i = 0; i < opts.tags.size(); ++i) {
    if (auto problem = internal::check_tag(opts.tags[i]); !problem.empty()) {
      throw ValidationError(field(fmt::format("tags[{}]", i)), problem);
    }
  }
  if (!opts.metadata.is_object()) {
    throw ValidationError(field("metadata"),
                          fmt::format("must be a JSON object, not {}", opts.metadata.type_name()));
  }
  std::string dumped;
  for (auto [name, value] : {std::pair{"args", &job.args}, std::pair{"metadata", &opts.metadata}}) {
    if (auto problem = internal::dump_storable(*value, dumped); !problem.empty()) {
      throw ValidationError(field(name), problem);
    }
  }
  const UniqueOpts& unique = opts.unique;
  if (unique.by_period.count() < 0) {
    throw ValidationError(field("unique.by_period"), "must not be negative");
  }
  if (!unique.by_state.empty()) {
    for (JobState required :
         {JobState::available, JobState::scheduled, JobState::running, JobState::retryable}) {
      if (std::find(unique.by_state.begin(), unique.by_state.end(), required) ==
          unique.by_state.end()) {
        throw ValidationError(
            field("unique.by_state"),
            fmt::format("must include \"{}\" (available, scheduled, running and retryable are "
                        "always required)",
                        to_string(required)));
      }
    }
  }
}

}  // namespace delta::jobs
