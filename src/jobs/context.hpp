// What every part of the job queue in one client shares.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <delta/jobs.hpp>

#include "common/event_hub.hpp"
#include "jobs/options.hpp"
#include "jobs/store.hpp"
#include "runtime/context.hpp"
#include "runtime/flow.hpp"

namespace delta::jobs {

using EventHub = internal::EventHub<JobEvent, JobEventKind, &JobEvent::kind>;

struct JobsContext {
  runtime::Context& runtime;  // pool, process id, clock, logger, client
  Options options;            // validated, defaults filled in
  JobStore store;
  EventHub events;
  // Flow limits of the queues (runtime/flow.hpp), set up by the engine.
  std::unique_ptr<runtime::FlowStore> flow_store{};
  std::unique_ptr<runtime::FlowSnapshot> flow{};

  pg::Pool& pool() const { return *runtime.pool; }
  const std::string& id() const noexcept { return runtime.id(); }
  std::optional<Timestamp> now() const { return runtime.now(); }
  void log(LogLevel level, std::string_view message,
           std::initializer_list<LogField> fields = {}) const {
    runtime.log(level, message, fields);
  }
};

}  // namespace delta::jobs
