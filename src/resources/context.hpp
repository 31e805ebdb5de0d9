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
#include "runtime/flow.hpp"

namespace delta::resources {

using EventHub = internal::EventHub<Event, EventCategory, &Event::category>;

// One registered kind in this process.
struct KindInfo {
  std::string kind;
  std::shared_ptr<ControllerBase> controller;
  int parallelism = 1;
  std::chrono::milliseconds timeout{0};  // resolved default work timeout (< 0: none)
  std::int64_t lease_ms = -1;            // timeout + stuck_threshold (< 0: no expiry)
  internal::FlowLimit limit;             // the code's default flow limits
};

// Flow limits of kinds and namespaces (runtime/flow.hpp), set up by the engine.
struct ResourceFlow {
  std::unique_ptr<runtime::FlowStore> kind_store, namespace_store;
  std::unique_ptr<runtime::FlowSnapshot> kinds, namespaces;
  // True when a claim of `kinds` in namespace `ns` must take the limited path.
  bool limited(const std::vector<std::string>& kind_names, const std::string& ns) const {
    return kinds->limited(kind_names) || namespaces->limited(ns);
  }
  // A kind or namespace whose concurrency is capped: finishing one frees capacity that
  // claimers of other processes wait for.
  bool capped(const std::string& kind, const std::string& ns) const {
    auto kind_limit = kinds->in_force(kind);
    auto ns_limit = namespaces->in_force(ns);
    return (kind_limit && kind_limit->concurrency) || (ns_limit && ns_limit->concurrency);
  }
};

struct ResourcesContext {
  runtime::Context& runtime;  // pool, process id, clock, logger, client
  Options options;            // validated, defaults filled in
  ResourceStore store;
  EventHub events;
  std::vector<KindInfo> kinds;
  ResourceFlow flow{};

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
