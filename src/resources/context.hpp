// What every part of the resource engine in one client shares.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <delta/controller.hpp>
#include <delta/events.hpp>
#include <delta/resource.hpp>

#include "common/event_hub.hpp"
#include "resources/options.hpp"
#include "resources/store.hpp"
#include "runtime/context.hpp"

namespace delta::resources {

using EventHub = internal::EventHub<Event, EventCategory, &Event::category>;

// One registered kind in this process.
struct KindInfo {
  std::string kind;
  std::shared_ptr<ControllerBase> controller;
  int parallelism = 1;
  std::chrono::milliseconds timeout{0};  // resolved default work timeout (< 0: none)
  std::int64_t lease_ms = -1;            // timeout + stuck_threshold (< 0: no expiry)
};

struct ResourcesContext {
  runtime::Context& runtime;  // pool, process id, clock, logger, client
  Options options;            // validated, defaults filled in
  ResourceStore store;
  EventHub events;
  std::vector<KindInfo> kinds;

  pg::Pool& pool() const { return *runtime.pool; }
  const std::string& id() const noexcept { return runtime.id(); }
  std::optional<Timestamp> now() const { return runtime.now(); }
  void log(LogLevel level, std::string_view message,
           std::initializer_list<LogField> fields = {}) const {
    runtime.log(level, message, fields);
  }
  const KindInfo* kind(std::string_view name) const {
    for (const auto& info : kinds) {
      if (info.kind == name) return &info;
    }
    return nullptr;
  }
};

}  // namespace delta::resources
