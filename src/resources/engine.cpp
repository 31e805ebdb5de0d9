#include "resources/engine.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "common/validate.hpp"

namespace delta::resources {

namespace {
std::optional<std::int64_t> millis(std::optional<std::chrono::milliseconds> value) {
  if (!value || value->count() <= 0) return std::nullopt;
  return value->count();
}

// The kinds this client has controllers for (`config` with its defaults filled in).
std::vector<KindInfo> kind_infos(const Options& config) {
  std::vector<KindInfo> kinds;
  for (const auto& name : config.controllers.kinds()) {
    KindInfo info;
    info.kind = name;
    info.controller = config.controllers.find(name);
    const auto settings = info.controller->settings();
    info.parallelism = settings.parallelism;
    info.limit = {settings.max_concurrency, settings.rate_limit};
    info.timeout = config.work_timeout;
    info.lease_ms = info.timeout.count() < 0 ? -1 : (info.timeout + config.stuck_threshold).count();
    kinds.push_back(std::move(info));
  }
  return kinds;
}
}  // namespace

ResourceEngine::ResourceEngine(runtime::Runtime& runtime, jobs::JobsEngine& jobs,
                               const Options& options)
    : runtime_(runtime),
      ctx_{runtime.context(),
           options.with_defaults(),
           ResourceStore(runtime.context().options.schema),
           {},
           kind_infos(options.with_defaults())},
      completer_(ctx_),
      writer_(ctx_, runtime.notify_limiter(), [this](std::string_view kind) { wake_kind(kind); }),
      informers_(ctx_, writer_, jobs),
      maintenance_(ctx_, jobs, [this] { wake_all(); }) {
  slots_ = std::make_unique<KindSlots>(ctx_.kinds, ctx_.options.resource_prefetch,
                                       ctx_.options.fair_namespaces);
  const auto& schema = runtime.context().options.schema;
  ctx_.flow.kind_store = std::make_unique<runtime::FlowStore>(schema, runtime::FlowTable::kinds);
  ctx_.flow.namespace_store =
      std::make_unique<runtime::FlowStore>(schema, runtime::FlowTable::namespaces);
  std::map<std::string, internal::FlowLimit> kind_limits, namespace_limits;
  for (const auto& info : ctx_.kinds)
    kind_limits[info.kind] = info.limit;
  for (const auto& [name, ns] : ctx_.options.namespaces)
    namespace_limits[name] = {ns.max_concurrency, ns.rate_limit};
  ctx_.flow.kinds = std::make_unique<runtime::FlowSnapshot>(
      *ctx_.flow.kind_store, "kind", std::move(kind_limits), ctx_.options.poll_interval,
      ctx_.runtime.options.logger);
  ctx_.flow.namespaces = std::make_unique<runtime::FlowSnapshot>(
      *ctx_.flow.namespace_store, "namespace", std::move(namespace_limits),
      ctx_.options.poll_interval, ctx_.runtime.options.logger);
  runtime_.notifier().add_channel(
      ctx_.store.channel(), [this](const std::string& kind) { wake_kind(kind); },
      [this] { wake_all(); });
  maintenance_.register_tasks(runtime_.leader_tasks());
}

ResourceEngine::~ResourceEngine() {
  try {
    stop(std::chrono::seconds(0));
  } catch (...) {
  }
}

void ResourceEngine::wake_kind(std::string_view kind) {
  for (auto& runner : runners_) {
    if (runner->works(kind)) runner->wake();
  }
}

void ResourceEngine::wake_all() {
  for (auto& runner : runners_)
    runner->wake();
}

// ---- resource operations ----------------------------------------------------------------

namespace {
void check_key(std::string_view kind, std::string_view id) {
  if (auto problem = internal::check_name(kind); !problem.empty()) {
    throw ValidationError("kind", problem);
  }
  if (auto problem = internal::check_object_id(id); !problem.empty()) {
    throw ValidationError("id", problem);
  }
}
}  // namespace

ResourceRow ResourceEngine::get(std::string_view kind, std::string_view id) {
  check_key(kind, id);
  auto conn = ctx_.pool().acquire();
  auto row = ctx_.store.get(*conn, kind, id);
  if (!row) throw NotFound(fmt::format("resource {}/{} does not exist", kind, id));
  return *row;
}

ResourceRow ResourceEngine::invalidate(std::string_view kind, std::string_view id) {
  check_key(kind, id);
  auto conn = ctx_.pool().acquire();
  auto row = ctx_.store.invalidate(*conn, kind, id, ctx_.now());
  if (!row) {
    auto current = ctx_.store.get(*conn, kind, id);
    if (!current) throw NotFound(fmt::format("resource {}/{} does not exist", kind, id));
    throw ValidationError("state", fmt::format("resource {}/{} is {}; only a synced resource can "
                                               "be invalidated",
                                               kind, id, to_string(current->state)));
  }
  runtime_.store().notify(*conn, ctx_.store.channel(), std::string(kind));
  conn.release();
  wake_kind(kind);
  return *row;
}

ResourceRow ResourceEngine::retry(std::string_view kind, std::string_view id) {
  check_key(kind, id);
  auto conn = ctx_.pool().acquire();
  auto row = ctx_.store.retry(*conn, kind, id, ctx_.now());
  if (!row) {
    auto current = ctx_.store.get(*conn, kind, id);
    if (!current) throw NotFound(fmt::format("resource {}/{} does not exist", kind, id));
    throw ValidationError("state", fmt::format("resource {}/{} is {}; only a failed or degraded "
                                               "resource can be retried",
                                               kind, id, to_string(current->state)));
  }
  runtime_.store().notify(*conn, ctx_.store.channel(), std::string(kind));
  conn.release();
  wake_kind(kind);
  return *row;
}

Subscription<Event> ResourceEngine::subscribe(std::vector<EventCategory> categories,
                                              std::size_t capacity) {
  return ctx_.events.subscribe(std::move(categories), capacity);
}

// ---- start / stop -----------------------------------------------------------------------

void ResourceEngine::start() {
  if (started_) throw Error("the resource engine was already started");
  const Options& config = ctx_.options;
  {
    auto conn = ctx_.pool().acquire();
    for (const auto& [name, ns] : config.namespaces) {
      auto expiry = millis(ns.resource_expiry.value_or(config.resource_expiry));
      ctx_.store.upsert_namespace(
          *conn, name, expiry,
          expiry ? std::nullopt : millis(ns.synced_retention.value_or(config.synced_retention)),
          millis(ns.deleted_retention.value_or(config.deleted_retention)),
          millis(ns.degraded_retention.value_or(config.degraded_retention)));
    }
    for (const auto& info : ctx_.kinds) {
      auto interval = info.controller->settings().inform_interval.value_or(config.inform_interval);
      ctx_.store.upsert_controller(*conn, info.kind, millis(interval),
                                   millis(info.controller->settings().debounce));
    }
    // The limits in force, registering this process's defaults where none are yet.
    ctx_.flow.kinds->refresh_if_stale(*conn);
    ctx_.flow.namespaces->refresh_if_stale(*conn);
  }
  started_ = true;
  watchdog_.watch(ctx_.runtime.fence);
  watchdog_.start();
  completer_.start();
  if (!ctx_.kinds.empty()) {
    for (const auto& [name, ns] : config.namespaces) {
      runners_.push_back(std::make_unique<NamespaceRunner>(ctx_, *slots_, completer_, watchdog_,
                                                           name, ns.max_workers));
    }
  }
  slots_->on_freed([this](const KindSlots::Freed& freed) {
    for (auto& runner : runners_)
      runner->slots_freed(freed);
  });
  for (auto& runner : runners_)
    runner->start();
  runtime_.leader_tasks().start(std::string(Maintenance::kLane));
}

void ResourceEngine::stop(std::chrono::milliseconds grace) {
  if (!started_ || stopped_.exchange(true)) return;
  for (auto& runner : runners_)
    runner->stop_claiming();
  auto busy = [&] { return runtime::any_in_flight(runners_); };
  runtime::stop_with_grace(
      ctx_.runtime, grace, busy, watchdog_,
      [&] {
        std::vector<FinishRow> release;
        for (auto& runner : runners_) {
          for (auto [id, attempted_at] : runner->running()) {
            FinishRow row;
            row.id = id;
            row.attempted_at = attempted_at;
            row.outcome = Finish::release;
            release.push_back(row);
          }
        }
        if (release.empty()) return;
        try {
          auto conn = ctx_.pool().acquire();
          auto released = ctx_.store.finish(*conn, release, ctx_.id(), ctx_.now());
          ctx_.log(LogLevel::warn, fmt::format("stop: released {} resources still being worked; "
                                               "waiting for their threads to return",
                                               released.size()));
        } catch (const std::exception& e) {
          ctx_.log(LogLevel::warn, fmt::format("stop: could not release resources still being "
                                               "worked (the rescuer will): {}",
                                               e.what()));
        }
      },
      "work");
  for (auto& runner : runners_)
    runner->join();
  completer_.stop();
  watchdog_.stop();
  ctx_.events.close_all();
}

}  // namespace delta::resources
