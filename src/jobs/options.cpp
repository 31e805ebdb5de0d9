#include "jobs/options.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "common/flow.hpp"
#include "common/validate.hpp"

namespace delta::jobs {

std::vector<std::string> Options::check() const {
  std::vector<std::string> problems;
  for (const auto& reserved : reserved_queues) {
    if (queues.contains(reserved)) {
      problems.push_back(fmt::format("queues: \"{}\" is reserved for informer runs", reserved));
    }
  }
  for (const auto& [name, queue] : queues) {
    if (auto problem = internal::check_name(name); !problem.empty()) {
      problems.push_back(fmt::format("queues: queue name {}", problem));
    }
    if (queue.max_workers < 1 || queue.max_workers > 10000) {
      problems.push_back(fmt::format("queues[\"{}\"].max_workers must be in 1 .. 10000 (got {})",
                                     name, queue.max_workers));
    }
    internal::check_flow_limit(problems, fmt::format("queues[\"{}\"]", name), "global_max_workers",
                               {queue.global_max_workers, queue.rate_limit});
  }
  if (job_timeout.count() == 0) {
    problems.emplace_back("job_timeout must be > 0, or negative for no timeout");
  }
  internal::check_positive(problems, "completed_job_retention", completed_job_retention);
  internal::check_positive(problems, "cancelled_job_retention", cancelled_job_retention);
  internal::check_positive(problems, "discarded_job_retention", discarded_job_retention);
  if (completer_batch_size < 1 || completer_batch_size > 10000) {
    problems.push_back(
        fmt::format("completer_batch_size must be in 1 .. 10000 (got {})", completer_batch_size));
  }
  if (completer_flush_interval.count() < 0) {
    problems.emplace_back("completer_flush_interval must not be negative");
  }
  internal::check_positive(problems, "scheduler_interval", scheduler_interval);
  internal::check_positive(problems, "rescuer_interval", rescuer_interval);
  if (rescue_margin.count() < 0) problems.emplace_back("rescue_margin must not be negative");
  internal::check_positive(problems, "job_cleaner_interval", job_cleaner_interval);
  std::set<std::string> periodic_names;
  for (std::size_t i = 0; i < periodic_jobs.size(); ++i) {
    const auto& periodic = periodic_jobs[i];
    if (periodic.name.empty())
      problems.push_back(fmt::format("periodic_jobs[{}].name is empty", i));
    if (!periodic_names.insert(periodic.name).second) {
      problems.push_back(
          fmt::format("periodic_jobs[{}]: name \"{}\" is used twice", i, periodic.name));
    }
    if (periodic.interval.count() <= 0) {
      problems.push_back(fmt::format("periodic_jobs[{}].interval must be > 0", i));
    }
    if (!periodic.make)
      problems.push_back(fmt::format("periodic_jobs[{}] has no job constructor", i));
  }
  return problems;
}

Options Options::with_defaults() const {
  Options filled = *this;
  if (!filled.retry_policy) filled.retry_policy = exponential_backoff();
  return filled;
}

}  // namespace delta::jobs
