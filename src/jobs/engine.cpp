#include "jobs/engine.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "common/validate.hpp"
#include "jobs/validate_insert.hpp"

namespace delta::jobs {

JobsEngine::JobsEngine(runtime::Runtime& runtime, const Options& options)
    : runtime_(runtime),
      ctx_{runtime.context(),
           options.with_defaults(),
           JobStore(runtime.context().options.schema),
           {}},
      completer_(ctx_),
      maintenance_(ctx_) {
  ctx_.flow_store = std::make_unique<runtime::FlowStore>(runtime.context().options.schema,
                                                         runtime::FlowTable::queues);
  std::map<std::string, internal::FlowLimit> queue_limits;
  for (const auto& [name, queue] : ctx_.options.queues)
    queue_limits[name] = {queue.global_max_workers, queue.rate_limit};
  ctx_.flow = std::make_unique<runtime::FlowSnapshot>(
      *ctx_.flow_store, "queue", std::move(queue_limits), ctx_.options.poll_interval,
      ctx_.runtime.options.logger);
  runtime_.notifier().add_channel(
      ctx_.store.jobs_channel(), [this](const std::string& queue) { wake_queue(queue); },
      [this] {
        for (auto& runner : runners_)
          runner->wake();
      });
  runtime_.notifier().add_channel(ctx_.store.control_channel(), [this](const std::string& payload) {
    if (!payload.starts_with("cancel:")) return;
    try {
      watchdog_.cancel(std::stoll(payload.substr(7)));
    } catch (const std::exception&) {
      // Not a job id: a message for another version of delta.
    }
  });
  maintenance_.register_tasks(runtime_.leader_tasks(), runtime_.elector());
  // The job tasks touch only the database.
  runtime_.leader_tasks().start_with_runtime(std::string(Maintenance::kLane));
}

JobsEngine::~JobsEngine() {
  stop(std::chrono::seconds(10));
}

void JobsEngine::wake_queue(const std::string& queue) {
  for (auto& runner : runners_) {
    if (runner->queue() == queue) runner->wake();
  }
}

InsertResult JobsEngine::insert(const JobInsert& job) {
  return insert_many(std::span<const JobInsert>(&job, 1)).front();
}

InsertResult JobsEngine::insert_tx(pg::Transaction& tx, const JobInsert& job) {
  return insert_many_tx(tx, std::span<const JobInsert>(&job, 1)).front();
}

std::vector<InsertResult> JobsEngine::insert_many(std::span<const JobInsert> jobs) {
  if (jobs.empty()) return {};
  std::vector<std::string> queues;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    validate_insert(jobs[i], jobs.size() == 1 ? "" : fmt::format("jobs[{}]", i));
    if (std::find(queues.begin(), queues.end(), jobs[i].opts.queue) == queues.end()) {
      queues.push_back(jobs[i].opts.queue);
    }
  }
  const bool notify = runtime_.notify_limiter().should_notify(ctx_.store.jobs_channel(), queues);
  auto conn = ctx_.pool().acquire();
  if (jobs.size() <= JobStore::kInsertChunk)
    return ctx_.store.insert(*conn, jobs, ctx_.now(), notify);
  // Several statements: all of them or none.
  pg::Transaction tx(std::move(conn));
  auto results = ctx_.store.insert(tx.connection(), jobs, ctx_.now(), notify);
  tx.commit();
  return results;
}

std::vector<InsertResult> JobsEngine::insert_many_tx(pg::Transaction& tx,
                                                     std::span<const JobInsert> jobs) {
  if (jobs.empty()) return {};
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    validate_insert(jobs[i], jobs.size() == 1 ? "" : fmt::format("jobs[{}]", i));
  }
  // Always notify: the NOTIFY is delivered when the caller commits, which is exactly when
  // the jobs become visible.
  return ctx_.store.insert(tx.connection(), jobs, ctx_.now(), true);
}

JobRow JobsEngine::get(std::int64_t id) {
  auto conn = ctx_.pool().acquire();
  auto job = ctx_.store.get(*conn, id);
  if (!job) throw NotFound(fmt::format("job {} does not exist", id));
  return *job;
}

JobRow JobsEngine::cancel(std::int64_t id) {
  auto conn = ctx_.pool().acquire();
  auto job = ctx_.store.cancel(*conn, id, ctx_.now());
  if (!job) throw NotFound(fmt::format("job {} does not exist", id));
  return *job;
}

JobRow JobsEngine::retry(std::int64_t id) {
  auto conn = ctx_.pool().acquire();
  auto job = ctx_.store.retry(*conn, id, ctx_.now());
  if (!job) throw NotFound(fmt::format("job {} does not exist", id));
  return *job;
}

void JobsEngine::set_paused(std::string_view queue, bool paused) {
  if (auto problem = internal::check_name(queue); !problem.empty()) {
    throw ValidationError("queue", problem);
  }
  auto conn = ctx_.pool().acquire();
  ctx_.store.set_queue_paused(*conn, std::string(queue), paused, ctx_.now());
  if (!paused) runtime_.store().notify(*conn, ctx_.store.jobs_channel(), std::string(queue));
}

Subscription<JobEvent> JobsEngine::subscribe(std::vector<JobEventKind> kinds,
                                             std::size_t capacity) {
  return ctx_.events.subscribe(std::move(kinds), capacity);
}

InsertResult JobsEngine::insert_own(pg::Connection& conn, const JobInsert& job) {
  return ctx_.store.insert(conn, std::span<const JobInsert>(&job, 1), ctx_.now(), true).front();
}

void JobsEngine::start() {
  if (started_) throw Error("the job engine was already started");
  if (!ctx_.options.queues.empty()) {
    // The queues' rows, and the limits in force (this process's defaults registered
    // where none are yet).
    std::vector<std::string> queues;
    for (const auto& [name, queue] : ctx_.options.queues)
      queues.push_back(name);
    auto conn = ctx_.pool().acquire();
    ctx_.store.ensure_queues(*conn, queues);
    ctx_.flow->refresh_if_stale(*conn);
  }
  started_ = true;
  watchdog_.watch(ctx_.runtime.fence);
  watchdog_.start();
  completer_.start();
  for (const auto& [name, queue] : ctx_.options.queues) {
    runners_.push_back(
        std::make_unique<QueueRunner>(ctx_, completer_, watchdog_, name, queue.max_workers));
  }
  for (auto& runner : runners_)
    runner->start();
}

void JobsEngine::stop(std::chrono::milliseconds grace) {
  if (!started_ || stopped_.exchange(true)) return;
  for (auto& runner : runners_)
    runner->stop_fetching();
  auto busy = [&] { return runtime::any_in_flight(runners_); };
  runtime::stop_with_grace(
      ctx_.runtime, grace, busy, watchdog_,
      [&] {
        std::vector<std::int64_t> ids;
        for (auto& runner : runners_) {
          auto running = runner->running_ids();
          ids.insert(ids.end(), running.begin(), running.end());
        }
        if (ids.empty()) return;
        try {
          auto conn = ctx_.pool().acquire();
          ctx_.store.release(*conn, ids, ctx_.id(), ctx_.now());
          ctx_.log(LogLevel::warn, fmt::format("stop: released {} jobs still running; waiting for "
                                               "their threads to return",
                                               ids.size()));
        } catch (const std::exception& e) {
          ctx_.log(LogLevel::warn,
                   fmt::format("stop: could not release running jobs: {}", e.what()));
        }
      },
      "jobs");
  for (auto& runner : runners_)
    runner->join();
  completer_.stop();
  watchdog_.stop();
  ctx_.events.close_all();
}

// ---- Jobs facade ------------------------------------------------------------------------

InsertResult Jobs::insert(const JobInsert& job) {
  return engine_->insert(job);
}
InsertResult Jobs::insert_tx(pg::Transaction& tx, const JobInsert& job) {
  return engine_->insert_tx(tx, job);
}
std::vector<InsertResult> Jobs::insert_many(std::span<const JobInsert> jobs) {
  return engine_->insert_many(jobs);
}
std::vector<InsertResult> Jobs::insert_many_tx(pg::Transaction& tx,
                                               std::span<const JobInsert> jobs) {
  return engine_->insert_many_tx(tx, jobs);
}
JobRow Jobs::get(std::int64_t id) {
  return engine_->get(id);
}
JobRow Jobs::cancel(std::int64_t id) {
  return engine_->cancel(id);
}
JobRow Jobs::retry(std::int64_t id) {
  return engine_->retry(id);
}
void Jobs::pause_queue(std::string_view queue) {
  engine_->set_paused(queue, true);
}
void Jobs::resume_queue(std::string_view queue) {
  engine_->set_paused(queue, false);
}
Subscription<JobEvent> Jobs::subscribe(std::vector<JobEventKind> kinds, std::size_t capacity) {
  return engine_->subscribe(std::move(kinds), capacity);
}

}  // namespace delta::jobs
