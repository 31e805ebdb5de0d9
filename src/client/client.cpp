// delta::Client: builds the runtime and the two engines from the user's flat Config,
// starts them in order and stops them in reverse. It validates nothing itself: each part
// checks its own options and the client reports every problem at once.
#include <atomic>

#include <fmt/format.h>

#include <delta/client.hpp>
#include <delta/migrate.hpp>

#include "jobs/engine.hpp"
#include "jobs/options.hpp"
#include "resources/engine.hpp"
#include "resources/informer.hpp"
#include "resources/options.hpp"
#include "runtime/options.hpp"
#include "runtime/runtime.hpp"

namespace delta {

namespace {

runtime::Options runtime_options(const Config& config) {
  runtime::Options options;
  options.schema = config.schema;
  options.id = config.id;
  options.logger = config.logger;
  options.hooks = config.hooks;
  options.clock = config.clock;
  options.poll_interval = config.poll_interval;
  options.notify_rate_limit = config.notify_rate_limit;
  options.heartbeat_interval = config.heartbeat_interval;
  options.cluster_metrics_interval = config.cluster_metrics_interval;
  options.client_ttl = config.client_ttl;
  options.leader_ttl = config.leader_ttl;
  options.leader_renew_interval = config.leader_renew_interval;
  return options;
}

resources::Options resource_options(const Config& config) {
  resources::Options options;
  options.controllers = config.controllers;
  options.namespaces = config.namespaces;
  options.poll_interval = config.poll_interval;
  options.work_timeout = config.work_timeout;
  options.inform_timeout = config.inform_timeout;
  options.stuck_threshold = config.stuck_threshold;
  options.resource_prefetch = config.resource_prefetch;
  options.fair_namespaces = config.fair_namespaces;
  options.resource_claimers = config.resource_claimers;
  options.resource_backoff = config.resource_backoff;
  options.inform_interval = config.inform_interval;
  options.inform_jitter = config.inform_jitter;
  options.inform_progress_interval = config.inform_progress_interval;
  options.maintenance_interval = config.maintenance_interval;
  options.cleaner_interval = config.cleaner_interval;
  options.rescuer_interval = config.rescuer_interval;
  options.resource_expiry = config.resource_expiry;
  options.synced_retention = config.synced_retention;
  options.deleted_retention = config.deleted_retention;
  options.degraded_retention = config.degraded_retention;
  options.completer_batch_size = config.completer_batch_size;
  options.completer_flush_interval = config.completer_flush_interval;
  return options;
}

jobs::Options job_options(const Config& config) {
  jobs::Options options;
  options.workers = config.workers;
  options.queues = config.queues;
  options.periodic_jobs = config.periodic_jobs;
  options.reserved_queues = {std::string(kInformQueue)};
  options.poll_interval = config.poll_interval;
  options.job_timeout = config.job_timeout;
  options.retry_policy = config.retry_policy;
  options.completed_job_retention = config.completed_job_retention;
  options.cancelled_job_retention = config.cancelled_job_retention;
  options.discarded_job_retention = config.discarded_job_retention;
  options.completer_batch_size = config.completer_batch_size;
  options.completer_flush_interval = config.completer_flush_interval;
  options.scheduler_interval = config.scheduler_interval;
  options.rescuer_interval = config.rescuer_interval;
  options.rescue_margin = config.rescue_margin;
  options.job_cleaner_interval = config.job_cleaner_interval;
  return options;
}

void append(std::vector<std::string>& to, std::vector<std::string> from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

// What the heartbeat says this process runs: its job queues and kinds, and the resource
// kinds it has controllers for (what Admin::list_controllers counts clients by).
nlohmann::json process_metadata(const jobs::Options& jobs, const Controllers& controllers) {
  nlohmann::json metadata = {{"queues", nlohmann::json::array()},
                             {"kinds", jobs.workers.kinds()},
                             {"controllers", controllers.kinds()}};
  for (const auto& [name, queue] : jobs.queues) {
    metadata["queues"].push_back({{"name", name}, {"max_workers", queue.max_workers}});
  }
  return metadata;
}

// The gauges of now: the leadership and the pool.
void collect_process(std::vector<MetricFamily>& out, runtime::Runtime& runtime,
                     const pg::Pool& pool) {
  auto gauge = [](std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<MetricSample> samples, MetricType type = MetricType::gauge) {
    return MetricFamily{.name = std::move(name),
                        .help = std::move(help),
                        .type = type,
                        .label_names = std::move(label_names),
                        .samples = std::move(samples)};
  };
  auto value = [](double v) { return MetricSample{.value = v}; };
  auto state = [](const char* name, std::size_t v) {
    return MetricSample{.labels = {{"state", name}}, .value = static_cast<double>(v)};
  };
  const pg::PoolStats stats = pool.stats();
  out.push_back(gauge("delta_is_leader", "1 while this client holds the leadership, else 0.", {},
                      {value(runtime.elector().is_leader() ? 1 : 0)}));
  out.push_back(gauge(
      "delta_pool_connections",
      "The pool's connections: idle, in use, and callers waiting for one.", {"state"},
      {state("idle", stats.idle), state("in_use", stats.in_use), state("waiting", stats.waiting)}));
  out.push_back(gauge("delta_pool_max_connections", "The pool's connection limit.", {},
                      {value(static_cast<double>(pool.options().max_connections))}));
  out.push_back(gauge("delta_pool_waits_total",
                      "Connection requests that had to wait for a free connection.", {},
                      {value(static_cast<double>(stats.waits))}, MetricType::counter));
  out.push_back(gauge(
      "delta_pool_wait_seconds_total", "Time spent waiting for a free connection, in seconds.", {},
      {value(std::chrono::duration<double>(stats.wait_time).count())}, MetricType::counter));
  out.push_back(gauge("delta_pool_timeouts_total",
                      "Connection requests that gave up (PoolTimeoutError).", {},
                      {value(static_cast<double>(stats.timeouts))}, MetricType::counter));
  out.push_back(gauge("delta_pool_connections_opened_total", "Connections the pool opened.", {},
                      {value(static_cast<double>(stats.created))}, MetricType::counter));
  out.push_back(gauge("delta_pool_connections_discarded_total",
                      "Connections the pool closed: broken, stale or not reusable.", {},
                      {value(static_cast<double>(stats.discarded))}, MetricType::counter));
}

}  // namespace

struct Client::Impl {
  Config config;  // as given, with the defaults the parts filled in
  std::shared_ptr<pg::Pool> pool;
  std::unique_ptr<runtime::Runtime> runtime;
  std::unique_ptr<jobs::JobsEngine> engine;
  std::unique_ptr<jobs::Jobs> jobs;
  std::unique_ptr<resources::ResourceEngine> resources;
  std::shared_ptr<resources::InformerLink> informers = std::make_shared<resources::InformerLink>();
  std::atomic<bool> started{false};
  std::atomic<bool> running{false};  // between a successful start() and stop()
};

Client::Client(std::shared_ptr<pg::Pool> pool, Config config) : impl_(std::make_unique<Impl>()) {
  if (!pool) throw ConfigError("pool must not be null");
  auto process = runtime_options(config);
  auto resource = resource_options(config);
  auto job = job_options(config);
  std::vector<std::string> problems = process.check();
  append(problems, resource.check());
  append(problems, job.check());
  if (!problems.empty()) throw ConfigError(std::move(problems));

  if (!config.controllers.empty()) {
    // Informer runs are jobs on a queue of their own, one worker per controller.
    for (const auto& kind : config.controllers.kinds()) {
      job.workers.add(std::make_shared<resources::InformWorker>(
          impl_->informers, config.controllers.find(kind), config.inform_timeout));
    }
    job.queues[std::string(kInformQueue)] = {.max_workers =
                                                 static_cast<int>(config.controllers.size())};
  }
  process.metadata = process_metadata(job, config.controllers);

  impl_->pool = pool;
  impl_->runtime = std::make_unique<runtime::Runtime>(std::move(pool), process, this);
  impl_->engine = std::make_unique<jobs::JobsEngine>(*impl_->runtime, job);
  impl_->jobs = std::make_unique<jobs::Jobs>(impl_->engine.get());
  impl_->resources =
      std::make_unique<resources::ResourceEngine>(*impl_->runtime, *impl_->engine, resource);
  impl_->informers->informers = &impl_->resources->informers();
  impl_->runtime->context().metrics->add_collector(
      [runtime = impl_->runtime.get(), pool = impl_->pool.get()](std::vector<MetricFamily>& out) {
        collect_process(out, *runtime, *pool);
        runtime->cluster_gauges().collect(out);
      });

  // What config() reports: the user's config with the defaults filled in.
  const auto& filled = impl_->runtime->context().options;
  config.id = filled.id;
  config.logger = filled.logger;
  config.retry_policy = impl_->engine->context().options.retry_policy;
  config.resource_backoff = impl_->resources->context().options.resource_backoff;
  config.workers = impl_->engine->context().options.workers;
  config.queues = impl_->engine->context().options.queues;
  impl_->config = std::move(config);
}

Client::~Client() {
  try {
    stop(std::chrono::seconds(10));
  } catch (...) {
    // Destructors do not throw; stop() already logged what went wrong.
  }
}

void Client::start() {
  if (impl_->started) throw Error("the client was already started");
  check_schema(*impl_->pool, impl_->config.schema);
  impl_->started = true;
  // The runtime first: its heartbeat registers this client before any resource or job is
  // taken under its id. Then the engines, then notifications and the leader's tasks.
  impl_->runtime->start();
  runtime::Service* services[] = {impl_->engine.get(), impl_->resources.get()};
  std::size_t started = 0;
  try {
    for (auto* service : services) {
      service->start();
      ++started;
    }
    impl_->runtime->run();
    impl_->running = true;
  } catch (...) {
    while (started > 0)
      services[--started]->stop(std::chrono::milliseconds(0));
    impl_->runtime->stop();
    throw;
  }
}

void Client::stop(milliseconds grace) {
  // Resources first (their informer runs are jobs), then jobs, sharing one grace period.
  impl_->running = false;
  const auto begin = std::chrono::steady_clock::now();
  impl_->resources->stop(grace);
  const auto spent =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - begin);
  impl_->engine->stop(std::max(milliseconds(0), grace - spent));
  impl_->runtime->stop();
}

InformResult Client::inform_object(pg::Transaction* tx, detail::ObjectData object) {
  return impl_->resources->writer().write_one(tx, std::move(object));
}

InformManyResult Client::inform_objects(pg::Transaction* tx,
                                        std::vector<detail::ObjectData>& objects) {
  return impl_->resources->writer().write_many(tx, objects, true);
}

jobs::InsertResult Client::schedule_inform(const ScheduleInformOpts& opts) {
  return impl_->resources->informers().schedule(opts);
}

std::optional<InformRun> Client::last_inform_run(std::string_view kind) const {
  return impl_->resources->informers().last_run(kind);
}

ResourceRow Client::get_resource(std::string_view kind, std::string_view id) {
  return impl_->resources->get(kind, id);
}

ResourceRow Client::invalidate_resource(std::string_view kind, std::string_view id) {
  return impl_->resources->invalidate(kind, id);
}

ResourceRow Client::retry_resource(std::string_view kind, std::string_view id) {
  return impl_->resources->retry(kind, id);
}

Subscription<Event> Client::subscribe(std::vector<EventCategory> categories, std::size_t capacity) {
  return impl_->resources->subscribe(std::move(categories), capacity);
}

jobs::Jobs& Client::jobs() {
  return *impl_->jobs;
}
const std::string& Client::id() const noexcept {
  return impl_->config.id;
}
const Config& Client::config() const noexcept {
  return impl_->config;
}
pg::Pool& Client::pool() const noexcept {
  return *impl_->pool;
}
bool Client::is_leader() const noexcept {
  return impl_->runtime->elector().is_leader();
}
Health Client::health() const {
  Health health;
  health.alive = impl_->running;
  const auto contact = impl_->runtime->elector().last_contact();
  if (contact.time_since_epoch().count() != 0) {
    health.since_database =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - contact);
  }
  const auto horizon = 2 * impl_->config.heartbeat_interval;
  if (!health.alive) {
    health.reason = impl_->started ? "the client has stopped" : "the client has not started";
  } else if (!health.since_database) {
    health.reason = "the database has not been reached yet";
  } else if (*health.since_database > horizon) {
    health.reason = fmt::format(
        "the database has not been reached for {} ms (heartbeats every "
        "{} ms)",
        health.since_database->count(), impl_->config.heartbeat_interval.count());
  } else {
    health.ready = true;
  }
  return health;
}

std::vector<MetricFamily> Client::metrics() const {
  return impl_->runtime->context().metrics->snapshot();
}

}  // namespace delta
