#include "runtime/options.hpp"

#include <cstdio>
#include <random>

#include <fmt/format.h>
#include <unistd.h>

#include <delta/errors.hpp>

#include "common/validate.hpp"
#include "schema/migrations.hpp"

namespace delta::runtime {

namespace {

std::string default_id() {
  char host[128] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  std::random_device random;
  return fmt::format("{}-{}-{:08x}", host, ::getpid(), random());
}

}  // namespace

std::vector<std::string> Options::check() const {
  std::vector<std::string> problems;
  try {
    schema::validate_schema_name(schema);
  } catch (const ConfigError& e) {
    problems.push_back(e.problems().front());
  }
  if (id.size() > 128) problems.emplace_back("id must be at most 128 characters");
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    if (!hooks[i]) problems.push_back(fmt::format("hooks[{}] is null", i));
  }
  internal::check_positive(problems, "poll_interval", poll_interval);
  if (notify_rate_limit.count() < 0) {
    problems.emplace_back("notify_rate_limit must not be negative (0 = no limit)");
  }
  internal::check_positive(problems, "heartbeat_interval", heartbeat_interval);
  if (cluster_metrics_interval.count() < 0) {
    problems.push_back(fmt::format("cluster_metrics_interval ({} ms) must be 0 (off) or positive",
                                   cluster_metrics_interval.count()));
  }
  internal::check_positive(problems, "client_ttl", client_ttl);
  if (client_ttl <= heartbeat_interval) {
    problems.push_back(
        fmt::format("client_ttl ({} ms) must be longer than heartbeat_interval ({} ms)",
                    client_ttl.count(), heartbeat_interval.count()));
  }
  internal::check_positive(problems, "leader_ttl", leader_ttl);
  internal::check_positive(problems, "leader_renew_interval", leader_renew_interval);
  if (leader_ttl <= leader_renew_interval) {
    problems.push_back(
        fmt::format("leader_ttl ({} ms) must be longer than leader_renew_interval ({} ms)",
                    leader_ttl.count(), leader_renew_interval.count()));
  }
  return problems;
}

Options Options::with_defaults() const {
  Options filled = *this;
  if (filled.id.empty()) filled.id = default_id();
  if (!filled.logger) filled.logger = stderr_logger(LogLevel::info);
  return filled;
}

}  // namespace delta::runtime
