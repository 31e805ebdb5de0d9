#include "support/maintenance_config.hpp"

#include <chrono>

#include <delta/log.hpp>

namespace delta::testing {

Config maintenance_config(const std::string& schema) {
  using namespace std::chrono_literals;
  Config config;
  config.schema = schema;
  config.logger = stderr_logger(LogLevel::warn);
  config.poll_interval = 50ms;
  config.inform_interval = -1ms;  // no periodic runs unless a test wants them
  config.inform_jitter = 0ms;
  config.maintenance_interval = 100ms;
  config.cleaner_interval = 200ms;
  config.completer_flush_interval = 1ms;
  // The heartbeat and election statements run with a statement_timeout of twice the
  // heartbeat interval; 500 ms (not 200 ms) keeps Client::start() from failing on a busy
  // machine.
  config.heartbeat_interval = 500ms;
  config.client_ttl = 2s;
  config.leader_ttl = 2s;
  config.leader_renew_interval = 200ms;
  config.scheduler_interval = 100ms;
  config.rescuer_interval = 100ms;
  return config;
}

}  // namespace delta::testing
