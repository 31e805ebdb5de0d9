// What every part of a client process shares: the pool, the process options, and the
// public client object handed to user code.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <delta/log.hpp>
#include <delta/pg.hpp>
#include <delta/time.hpp>

#include "runtime/metrics.hpp"
#include "runtime/options.hpp"

namespace delta {
class Client;
}

namespace delta::runtime {

struct Context {
  std::shared_ptr<pg::Pool> pool;
  Options options;  // validated, defaults filled in
  // Handed to work, informer and job contexts (null in engines built without a client).
  Client* client = nullptr;
  // What this process counts (Client::metrics()); never null.
  std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();

  const std::string& id() const noexcept { return options.id; }
  // The injected clock, else nullopt: statements use the database's now().
  std::optional<Timestamp> now() const {
    if (options.clock) return options.clock();
    return std::nullopt;
  }
  void log(LogLevel level, const std::string& message) const {
    if (options.logger) options.logger(level, message);
  }
};

}  // namespace delta::runtime
