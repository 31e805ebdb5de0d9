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

class Fence;
class HookCalls;

struct Context {
  std::shared_ptr<pg::Pool> pool;
  Options options;  // validated, defaults filled in
  // Handed to work, informer and job contexts (null in engines built without a client).
  Client* client = nullptr;
  // What this process counts (Client::metrics()); never null.
  std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();
  // Calls options.hooks (set by the Runtime; null in contexts built without one).
  std::shared_ptr<const HookCalls> hooks{};
  // Whether this client may work (set by the Runtime; null: never fenced).
  Fence* fence = nullptr;

  const std::string& id() const noexcept { return options.id; }
  // The injected clock, else nullopt: statements use the database's now().
  std::optional<Timestamp> now() const {
    if (options.clock) return options.clock();
    return std::nullopt;
  }
  void log(LogLevel level, std::string_view message,
           std::initializer_list<LogField> fields = {}) const {
    options.logger(level, message, fields);
  }
  bool logs(LogLevel level) const noexcept { return options.logger.enabled(level); }
  // Counts an error a background loop caught and backs off from
  // (delta_background_errors_total{loop}).
  void count_error(std::string_view loop) const {
    metrics
        ->counter("delta_background_errors_total",
                  "Errors the background loops caught, backed off from and retried, by loop.",
                  {"loop"}, {std::string(loop)})
        .add();
  }
};

}  // namespace delta::runtime
