#include "resources/options.hpp"

#include <fmt/format.h>

#include "common/flow.hpp"
#include "common/validate.hpp"

namespace delta::resources {

std::vector<std::string> Options::check() const {
  std::vector<std::string> problems;
  for (const auto& kind : controllers.kinds()) {
    const auto controller = controllers.find(kind);
    ObjectSettings settings;
    try {
      settings = controller->settings();
    } catch (const std::exception& e) {
      problems.push_back(fmt::format("controllers[\"{}\"]: settings() threw: {}", kind, e.what()));
      continue;
    }
    if (settings.parallelism < 1 || settings.parallelism > 10000) {
      problems.push_back(
          fmt::format("controllers[\"{}\"]: parallelism must be in 1 .. 10000 (got "
                      "{})",
                      kind, settings.parallelism));
    }
    internal::check_flow_limit(problems, fmt::format("controllers[\"{}\"]", kind),
                               "max_concurrency", {settings.max_concurrency, settings.rate_limit});
    if (settings.debounce.count() < 0 || settings.debounce > std::chrono::hours(24)) {
      problems.push_back(
          fmt::format("controllers[\"{}\"].debounce must be in 0 .. 86400000 ms (got {} ms)", kind,
                      settings.debounce.count()));
    }
    if (settings.inform_interval && settings.inform_interval->count() == 0) {
      problems.push_back(
          fmt::format("controllers[\"{}\"]: inform_interval must be > 0, or "
                      "negative to disable periodic informs",
                      kind));
    }
    try {
      auto timeout = controller->inform_timeout();
      (void)timeout;
    } catch (const std::exception& e) {
      problems.push_back(
          fmt::format("controllers[\"{}\"]: inform_timeout() threw: {}", kind, e.what()));
    }
  }
  for (const auto& [name, ns] : namespaces) {
    if (auto problem = internal::check_name(name); !problem.empty()) {
      problems.push_back(fmt::format("namespaces: namespace name {}", problem));
    }
    if (ns.max_workers < 1 || ns.max_workers > 10000) {
      problems.push_back(fmt::format(
          "namespaces[\"{}\"].max_workers must be in 1 .. 10000 (got {})", name, ns.max_workers));
    }
    if (ns.weight < 1 || ns.weight > 1000) {
      problems.push_back(
          fmt::format("namespaces[\"{}\"].weight must be in 1 .. 1000 (got {})", name, ns.weight));
    }
    internal::check_flow_limit(problems, fmt::format("namespaces[\"{}\"]", name), "max_concurrency",
                               {ns.max_concurrency, ns.rate_limit});
    if (ns.resource_expiry && ns.resource_expiry->count() <= 0) {
      problems.push_back(fmt::format("namespaces[\"{}\"].resource_expiry must be > 0", name));
    }
    for (auto [field, value] : {std::pair{"synced_retention", ns.synced_retention},
                                std::pair{"deleted_retention", ns.deleted_retention},
                                std::pair{"degraded_retention", ns.degraded_retention}}) {
      if (value && value->count() <= 0) {
        problems.push_back(fmt::format("namespaces[\"{}\"].{} must be > 0", name, field));
      }
    }
    const bool expires = ns.resource_expiry.value_or(resource_expiry).count() > 0;
    if (expires && ns.synced_retention) {
      problems.push_back(fmt::format(
          "namespaces[\"{}\"]: resource_expiry and synced_retention cannot both be set (synced "
          "resources of an expiring namespace are re-worked, not deleted)",
          name));
    }
  }
  if (resource_prefetch < 0 || resource_prefetch > 10000) {
    problems.push_back(
        fmt::format("resource_prefetch must be in 0 .. 10000 (got {})", resource_prefetch));
  }
  if (resource_claimers < 1 || resource_claimers > 16) {
    problems.push_back(
        fmt::format("resource_claimers must be in 1 .. 16 (got {})", resource_claimers));
  }
  if (work_timeout.count() == 0) {
    problems.emplace_back("work_timeout must be > 0, or negative for no timeout");
  }
  if (inform_timeout.count() == 0) {
    problems.emplace_back("inform_timeout must be > 0, or negative for no timeout");
  }
  if (stuck_threshold.count() < 0) {
    problems.emplace_back("stuck_threshold must not be negative");
  }
  if (inform_progress_interval.count() < 0) {
    problems.push_back(fmt::format("inform_progress_interval ({} ms) must be 0 (off) or positive",
                                   inform_progress_interval.count()));
  }
  if (inform_interval.count() == 0) {
    problems.emplace_back("inform_interval must be > 0, or negative to disable periodic informs");
  }
  internal::check_positive(problems, "maintenance_interval", maintenance_interval);
  internal::check_positive(problems, "cleaner_interval", cleaner_interval);
  if (resource_expiry.count() < 0) {
    problems.emplace_back("resource_expiry must not be negative (0 = never)");
  }
  internal::check_positive(problems, "synced_retention", synced_retention);
  internal::check_positive(problems, "deleted_retention", deleted_retention);
  internal::check_positive(problems, "degraded_retention", degraded_retention);
  return problems;
}

Options Options::with_defaults() const {
  Options filled = *this;
  if (!filled.resource_backoff) filled.resource_backoff = polynomial_backoff();
  return filled;
}

}  // namespace delta::resources
