#include <random>
#include <set>

#include <fmt/format.h>
#include <unistd.h>

#include <delta/client.hpp>
#include <delta/migrate.hpp>

#include "common/validate.hpp"
#include "jobs/engine.hpp"
#include "schema/migrations.hpp"
#include "sync/engine.hpp"

namespace delta {

namespace {

std::string default_client_id() {
  char host[128] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  std::random_device random;
  return fmt::format("{}-{}-{:08x}", host, ::getpid(), random());
}

// Problems with the resource options of `config`.
void check_resources(const Config& config, std::vector<std::string>& problems) {
  for (const auto& kind : config.controllers.kinds()) {
    const auto controller = config.controllers.find(kind);
    ObjectSettings settings;
    try {
      settings = controller->settings();
    } catch (const std::exception& e) {
      problems.push_back(fmt::format("controllers[\"{}\"]: settings() threw: {}", kind, e.what()));
      continue;
    }
    if (settings.parallelism < 1 || settings.parallelism > 10000) {
      problems.push_back(
          fmt::format("controllers[\"{}\"]: parallelism must be in 1 .. 10000 (got "
                      "{})",
                      kind, settings.parallelism));
    }
    if (settings.inform_interval && settings.inform_interval->count() == 0) {
      problems.push_back(
          fmt::format("controllers[\"{}\"]: inform_interval must be > 0, or "
                      "negative to disable periodic informs",
                      kind));
    }
    try {
      auto timeout = controller->inform_timeout();
      (void)timeout;
    } catch (const std::exception& e) {
      problems.push_back(
          fmt::format("controllers[\"{}\"]: inform_timeout() threw: {}", kind, e.what()));
    }
  }
  for (const auto& [name, ns] : config.namespaces) {
    if (auto problem = internal::check_name(name); !problem.empty()) {
      problems.push_back(fmt::format("namespaces: namespace name {}", problem));
    }
    if (ns.max_workers < 1 || ns.max_workers > 10000) {
      problems.push_back(fmt::format(
          "namespaces[\"{}\"].max_workers must be in 1 .. 10000 (got {})", name, ns.max_workers));
    }
    if (ns.resource_expiry && ns.resource_expiry->count() <= 0) {
      problems.push_back(fmt::format("namespaces[\"{}\"].resource_expiry must be > 0", name));
    }
    for (auto [field, value] : {std::pair{"synced_retention", ns.synced_retention},
                                std::pair{"deleted_retention", ns.deleted_retention},
                                std::pair{"degraded_retention", ns.degraded_retention}}) {
      if (value && value->count() <= 0) {
        problems.push_back(fmt::format("namespaces[\"{}\"].{} must be > 0", name, field));
      }
    }
    const bool expires = ns.resource_expiry.value_or(config.resource_expiry).count() > 0;
    if (expires && ns.synced_retention) {
      problems.push_back(fmt::format(
          "namespaces[\"{}\"]: resource_expiry and synced_retention cannot both be set (synced "
          "resources of an expiring namespace are re-worked, not deleted)",
          name));
    }
  }
  if (config.resource_prefetch < 0 || config.resource_prefetch > 10000) {
    problems.push_back(
        fmt::format("resource_prefetch must be in 0 .. 10000 (got {})", config.resource_prefetch));
  }
  if (config.resource_claimers < 1 || config.resource_claimers > 16) {
    problems.push_back(
        fmt::format("resource_claimers must be in 1 .. 16 (got {})", config.resource_claimers));
  }
  if (config.work_timeout.count() == 0) {
    problems.emplace_back("work_timeout must be > 0, or negative for no timeout");
  }
  if (config.inform_timeout.count() == 0) {
    problems.emplace_back("inform_timeout must be > 0, or negative for no timeout");
  }
  if (config.stuck_threshold.count() < 0) {
    problems.emplace_back("stuck_threshold must not be negative");
  }
  if (config.inform_interval.count() == 0) {
    problems.emplace_back("inform_interval must be > 0, or negative to disable periodic informs");
  }
  auto positive = [&](std::string_view name, std::chrono::milliseconds value) {
    if (value.count() <= 0)
      problems.push_back(fmt::format("{} must be > 0 (got {} ms)", name, value.count()));
  };
  positive("maintenance_interval", config.maintenance_interval);
  positive("cleaner_interval", config.cleaner_interval);
  if (config.resource_expiry.count() < 0) {
    problems.emplace_back("resource_expiry must not be negative (0 = never)");
  }
  positive("synced_retention", config.synced_retention);
  positive("deleted_retention", config.deleted_retention);
  positive("degraded_retention", config.degraded_retention);
}

// Every problem with `config`, in the order of the fields.
std::vector<std::string> check(const Config& config) {
  std::vector<std::string> problems;
  auto positive = [&](std::string_view name, std::chrono::milliseconds value) {
    if (value.count() <= 0)
      problems.push_back(fmt::format("{} must be > 0 (got {} ms)", name, value.count()));
  };
  try {
    schema::validate_schema_name(config.schema);
  } catch (const ConfigError& e) {
    problems.push_back(e.problems().front());
  }
  if (config.id.size() > 128) problems.emplace_back("id must be at most 128 characters");
  positive("poll_interval", config.poll_interval);
  check_resources(config, problems);
  if (config.queues.contains(std::string(kInformQueue))) {
    problems.push_back(fmt::format("queues: \"{}\" is reserved for informer runs", kInformQueue));
  }
  for (const auto& [name, queue] : config.queues) {
    if (auto problem = internal::check_name(name); !problem.empty()) {
      problems.push_back(fmt::format("queues: queue name {}", problem));
    }
    if (queue.max_workers < 1 || queue.max_workers > 10000) {
      problems.push_back(fmt::format("queues[\"{}\"].max_workers must be in 1 .. 10000 (got {})",
                                     name, queue.max_workers));
    }
  }
  if (config.job_timeout.count() == 0) {
    problems.emplace_back("job_timeout must be > 0, or negative for no timeout");
  }
  positive("completed_job_retention", config.completed_job_retention);
  positive("cancelled_job_retention", config.cancelled_job_retention);
  positive("discarded_job_retention", config.discarded_job_retention);
  if (config.completer_batch_size < 1 || config.completer_batch_size > 10000) {
    problems.push_back(fmt::format("completer_batch_size must be in 1 .. 10000 (got {})",
                                   config.completer_batch_size));
  }
  if (config.completer_flush_interval.count() < 0) {
    problems.emplace_back("completer_flush_interval must not be negative");
  }
  if (config.notify_rate_limit.count() < 0) {
    problems.emplace_back("notify_rate_limit must not be negative (0 = no limit)");
  }
  positive("heartbeat_interval", config.heartbeat_interval);
  positive("client_ttl", config.client_ttl);
  if (config.client_ttl <= config.heartbeat_interval) {
    problems.push_back(
        fmt::format("client_ttl ({} ms) must be longer than heartbeat_interval ({} ms)",
                    config.client_ttl.count(), config.heartbeat_interval.count()));
  }
  positive("leader_ttl", config.leader_ttl);
  positive("leader_renew_interval", config.leader_renew_interval);
  if (config.leader_ttl <= config.leader_renew_interval) {
    problems.push_back(
        fmt::format("leader_ttl ({} ms) must be longer than leader_renew_interval ({} ms)",
                    config.leader_ttl.count(), config.leader_renew_interval.count()));
  }
  positive("scheduler_interval", config.scheduler_interval);
  positive("rescuer_interval", config.rescuer_interval);
  if (config.rescue_margin.count() < 0) problems.emplace_back("rescue_margin must not be negative");
  positive("job_cleaner_interval", config.job_cleaner_interval);
  std::set<std::string> periodic_names;
  for (std::size_t i = 0; i < config.periodic_jobs.size(); ++i) {
    const auto& periodic = config.periodic_jobs[i];
    if (periodic.name.empty())
      problems.push_back(fmt::format("periodic_jobs[{}].name is empty", i));
    if (!periodic_names.insert(periodic.name).second) {
      problems.push_back(
          fmt::format("periodic_jobs[{}]: name \"{}\" is used twice", i, periodic.name));
    }
    if (periodic.interval.count() <= 0) {
      problems.push_back(fmt::format("periodic_jobs[{}].interval must be > 0", i));
    }
    if (!periodic.make)
      problems.push_back(fmt::format("periodic_jobs[{}] has no job constructor", i));
  }
  return problems;
}

}  // namespace

struct Client::Impl {
  std::shared_ptr<pg::Pool> pool;
  std::unique_ptr<jobs::JobsEngine> engine;
  std::unique_ptr<jobs::Jobs> jobs;
  std::unique_ptr<sync::SyncEngine> sync;
  std::shared_ptr<sync::InformerLink> informers = std::make_shared<sync::InformerLink>();
  bool started = false;
};

Client::Client(std::shared_ptr<pg::Pool> pool, Config config) : impl_(std::make_unique<Impl>()) {
  if (!pool) throw ConfigError("pool must not be null");
  auto problems = check(config);
  if (!problems.empty()) throw ConfigError(std::move(problems));
  if (config.id.empty()) config.id = default_client_id();
  if (!config.logger) config.logger = stderr_logger(LogLevel::info);
  if (!config.retry_policy) config.retry_policy = jobs::exponential_backoff();
  if (!config.resource_backoff) config.resource_backoff = polynomial_backoff();
  if (!config.controllers.empty()) {
    // Informer runs are jobs on a queue of their own, one worker per controller.
    for (const auto& kind : config.controllers.kinds()) {
      config.workers.add(std::make_shared<sync::InformWorker>(
          impl_->informers, config.controllers.find(kind), config.inform_timeout));
    }
    config.queues[std::string(kInformQueue)] = {.max_workers =
                                                    static_cast<int>(config.controllers.size())};
  }
  impl_->pool = pool;
  impl_->engine = std::make_unique<jobs::JobsEngine>(std::move(pool), std::move(config), this);
  impl_->jobs = std::make_unique<jobs::Jobs>(impl_->engine.get());
  impl_->sync = std::make_unique<sync::SyncEngine>(impl_->engine->context(), *impl_->engine);
  impl_->informers->engine = impl_->sync.get();
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
  check_schema(*impl_->pool, impl_->engine->context().config.schema);
  impl_->started = true;
  // The job engine first: its maintainer registers this client (heartbeat) before any
  // resource is claimed under its id.
  impl_->engine->start();
  try {
    impl_->sync->start();
  } catch (...) {
    impl_->engine->stop(std::chrono::milliseconds(0));
    throw;
  }
}

void Client::stop(milliseconds grace) {
  const auto begin = std::chrono::steady_clock::now();
  impl_->sync->stop(grace);
  const auto spent =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - begin);
  impl_->engine->stop(std::max(milliseconds(0), grace - spent));
}

InformResult Client::inform_object(pg::Transaction* tx, detail::ObjectData object) {
  return impl_->sync->inform(tx, std::move(object));
}

InformManyResult Client::inform_objects(pg::Transaction* tx,
                                        std::vector<detail::ObjectData>& objects) {
  return impl_->sync->inform_many(tx, objects, true);
}

jobs::InsertResult Client::schedule_inform(const ScheduleInformOpts& opts) {
  return impl_->sync->schedule_inform(opts);
}

std::optional<InformRun> Client::last_inform_run(std::string_view kind) const {
  return impl_->sync->last_inform_run(kind);
}

ResourceRow Client::get_resource(std::string_view kind, std::string_view id) {
  return impl_->sync->get(kind, id);
}

ResourceRow Client::invalidate_resource(std::string_view kind, std::string_view id) {
  return impl_->sync->invalidate(kind, id);
}

ResourceRow Client::retry_resource(std::string_view kind, std::string_view id) {
  return impl_->sync->retry(kind, id);
}

Subscription<Event> Client::subscribe(std::vector<EventCategory> categories, std::size_t capacity) {
  return impl_->sync->subscribe(std::move(categories), capacity);
}

jobs::Jobs& Client::jobs() {
  return *impl_->jobs;
}
const std::string& Client::id() const noexcept {
  return impl_->engine->context().config.id;
}
const Config& Client::config() const noexcept {
  return impl_->engine->context().config;
}
pg::Pool& Client::pool() const noexcept {
  return *impl_->pool;
}
bool Client::is_leader() const noexcept {
  return impl_->engine->is_leader();
}

}  // namespace delta
