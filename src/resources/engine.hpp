// The resource engine inside one client: informs, a runner per namespace, the kind
// slots, the completer, the watchdog, informer runs and the leader's resource
// maintenance.
//
// Stop order (stop): runners stop claiming and release what they claimed but did not
// start -> running work gets the grace period -> its stop tokens are signalled -> what
// still runs is released (back to scheduled) -> worker threads end -> the completer
// flushes -> the watchdog ends -> subscriptions are closed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <delta/controller.hpp>
#include <delta/resource.hpp>

#include "jobs/engine.hpp"
#include "resources/completer.hpp"
#include "resources/context.hpp"
#include "resources/inform_writer.hpp"
#include "resources/informer.hpp"
#include "resources/kind_slots.hpp"
#include "resources/maintenance.hpp"
#include "resources/namespace_runner.hpp"
#include "resources/options.hpp"
#include "runtime/runtime.hpp"
#include "runtime/service.hpp"
#include "runtime/watchdog.hpp"

namespace delta::resources {

class ResourceEngine final : public runtime::Service {
 public:
  // Registers its channel and leader tasks with `runtime`; informer runs are jobs of
  // `jobs`. `options` must have passed check().
  ResourceEngine(runtime::Runtime& runtime, jobs::JobsEngine& jobs, const Options& options);
  ~ResourceEngine() override;

  InformWriter& writer() noexcept { return writer_; }
  Informers& informers() noexcept { return informers_; }
  Maintenance& maintenance() noexcept { return maintenance_; }
  ResourcesContext& context() noexcept { return ctx_; }

  ResourceRow get(std::string_view kind, std::string_view id);
  ResourceRow invalidate(std::string_view kind, std::string_view id);
  ResourceRow retry(std::string_view kind, std::string_view id);
  Subscription<Event> subscribe(std::vector<EventCategory> categories, std::size_t capacity);

  // Registers namespaces and controllers, then starts the runners (the client row must
  // exist: the runtime has heartbeated).
  void start() override;
  void stop(std::chrono::milliseconds grace) override;

 private:
  void wake_kind(std::string_view kind);
  void wake_all();

  runtime::Runtime& runtime_;
  ResourcesContext ctx_;
  runtime::Watchdog watchdog_;
  Completer completer_;
  InformWriter writer_;
  Informers informers_;
  Maintenance maintenance_;
  std::unique_ptr<KindSlots> slots_;
  std::vector<std::unique_ptr<NamespaceRunner>> runners_;  // set by start()
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace delta::resources
