// Informer runs (inform jobs), their scheduling, and the leader's resource maintenance.
#include <deque>
#include <future>
#include <memory>
#include <random>

#include <fmt/format.h>

#include "common/validate.hpp"
#include "sync/engine.hpp"

namespace delta::sync {

namespace {

// Objects per write statement of an informer run, and statements written at once.
constexpr std::size_t kSinkBatch = 2500;
constexpr std::size_t kSinkInFlight = 2;
constexpr int kExpireBatch = 5000;
constexpr int kCleanBatch = 10000;
constexpr int kInformJobAttempts = 10;

// Collects an informer's objects and writes them in batches; tracks the cursor. Up to
// kSinkInFlight batches are written at once on their own connections while the informer
// goes on emitting; the cursor only moves over batches that were written, in order.
class BatchSink final : public detail::SinkBackend {
 public:
  BatchSink(SyncEngine& engine, std::string kind, bool force, std::stop_token stop, InformRun& run)
      : engine_(engine), kind_(std::move(kind)), force_(force), stop_(std::move(stop)), run_(run) {
    start_batch();
  }
  BatchSink(const BatchSink&) = delete;
  BatchSink& operator=(const BatchSink&) = delete;
  ~BatchSink() override {
    for (auto& flight : in_flight_) {
      if (flight.result.valid()) flight.result.wait();
    }
  }

  bool emit(detail::ObjectData object) override {
    if (stop_.stop_requested()) return false;
    if (object.kind != kind_) {
      throw ValidationError("kind", fmt::format("an informer of \"{}\" emitted an object of "
                                                "kind \"{}\"",
                                                kind_, object.kind));
    }
    if (force_) object.opts.force = true;
    auto rows = engine_.prepare(std::span<const detail::ObjectData>(&object, 1));
    object.json = nullptr;  // serialised into the row's body
    ++run_.emitted;
    if (object.created_at) {
      if (pending_max_ && *object.created_at < *pending_max_) in_order_ = false;
      if (dispatched_max_ && *object.created_at < *dispatched_max_) in_order_ = false;
      if (!pending_max_ || *object.created_at > *pending_max_) pending_max_ = object.created_at;
    } else {
      pending_without_ = true;
    }
    batch_->objects.push_back(std::move(object));
    batch_->rows.push_back(std::move(rows.front()));
    if (batch_->objects.size() >= kSinkBatch) flush();
    return !stop_.stop_requested();
  }

  // Writes every buffered and in-flight batch; rethrows the first write error.
  void finish() {
    std::exception_ptr error;
    try {
      flush();
    } catch (...) {
      error = std::current_exception();
    }
    while (!in_flight_.empty()) {
      try {
        collect_front();
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  }

  // Where the cursor may move after the run. A successful run: the newest created_at
  // written, or the run's start when objects carry none. A failed run: the newest
  // created_at written, and only when the objects came in created_at order (otherwise
  // an older object may still be missing).
  std::optional<Timestamp> cursor(bool succeeded, Timestamp started_at) const {
    std::optional<Timestamp> cursor = committed_max_;
    if (!succeeded) return in_order_ ? cursor : std::nullopt;
    if (any_without_ && (!cursor || started_at > *cursor)) cursor = started_at;
    return cursor;
  }

 private:
  struct Batch {
    std::vector<detail::ObjectData> objects;
    std::vector<InformRow> rows;
  };
  struct Flight {
    std::shared_ptr<Batch> batch;
    std::future<InformManyResult> result;
    std::optional<Timestamp> max;  // newest created_at in the batch
    bool without = false;          // objects without created_at in the batch
  };

  void start_batch() {
    batch_ = std::make_shared<Batch>();
    batch_->objects.reserve(kSinkBatch);
    batch_->rows.reserve(kSinkBatch);
  }

  // Sends what is buffered (one statement), waiting first for a free writer.
  void flush() {
    if (batch_->objects.empty()) return;
    while (in_flight_.size() >= kSinkInFlight)
      collect_front();
    Flight flight;
    flight.batch = batch_;
    flight.max = pending_max_;
    flight.without = pending_without_;
    flight.result = std::async(std::launch::async, [this, batch = batch_] {
      return engine_.write_many(nullptr, kind_, batch->objects, batch->rows, false);
    });
    in_flight_.push_back(std::move(flight));
    if (pending_max_ && (!dispatched_max_ || *pending_max_ > *dispatched_max_)) {
      dispatched_max_ = pending_max_;
    }
    pending_max_.reset();
    pending_without_ = false;
    start_batch();
  }

  // Waits for the oldest batch in flight and accounts for it. After a failed batch the
  // cursor stays behind it: later batches may be written, the next run lists them again.
  void collect_front() {
    Flight flight = std::move(in_flight_.front());
    in_flight_.pop_front();
    InformManyResult result;
    try {
      result = flight.result.get();
    } catch (...) {
      failed_ = true;
      throw;
    }
    ++run_.batches;
    run_.inserted += result.inserted;
    run_.changed += result.changed;
    run_.unchanged += result.unchanged;
    run_.stale += result.stale;
    run_.skipped_deleted += result.skipped_deleted;
    if (failed_) return;
    if (flight.max && (!committed_max_ || *flight.max > *committed_max_)) {
      committed_max_ = flight.max;
    }
    any_without_ = any_without_ || flight.without;
  }

  SyncEngine& engine_;
  const std::string kind_;
  const bool force_;
  std::stop_token stop_;
  InformRun& run_;
  std::shared_ptr<Batch> batch_;
  std::deque<Flight> in_flight_;
  std::optional<Timestamp> pending_max_;     // newest created_at buffered
  std::optional<Timestamp> dispatched_max_;  // newest created_at sent to be written
  std::optional<Timestamp> committed_max_;   // newest created_at written, in batch order
  bool pending_without_ = false;             // buffered objects without created_at
  bool any_without_ = false;                 // written objects without created_at
  bool in_order_ = true;
  bool failed_ = false;  // a batch failed: the cursor moves no further
};

}  // namespace

// ---- the inform job ---------------------------------------------------------------------

std::string inform_job_kind(std::string_view kind) {
  return fmt::format("delta.inform:{}", kind);
}

InformWorker::InformWorker(std::shared_ptr<InformerLink> link,
                           std::shared_ptr<ControllerBase> controller,
                           std::chrono::milliseconds default_timeout)
    : link_(std::move(link)),
      controller_(std::move(controller)),
      job_kind_(inform_job_kind(controller_->kind())),
      default_timeout_(default_timeout) {}

std::chrono::milliseconds InformWorker::timeout() const {
  auto own = controller_->inform_timeout();
  return own == kDefaultTimeout ? default_timeout_ : own;
}

jobs::JobResult InformWorker::run(jobs::JobContext& ctx, const jobs::JobRow& row) {
  SyncEngine* engine = link_->engine.load();
  if (engine == nullptr) return jobs::snooze(std::chrono::seconds(1));
  return engine->run_informer(ctx, std::string(controller_->kind()), row.args);
}

jobs::JobResult SyncEngine::run_informer(jobs::JobContext& job, const std::string& kind,
                                         const nlohmann::json& args) {
  const KindInfo* info = ctx_.kind(kind);
  if (info == nullptr) return jobs::cancel(fmt::format("no controller for kind \"{}\"", kind));
  InformRun run;
  run.kind = kind;
  run.started_at = ctx_.now().value_or(delta::now());

  InformOptions options;
  options.process_existing = args.value("process_existing", false);
  if (auto labels = args.find("labels"); labels != args.end() && labels->is_object()) {
    options.labels = labels->get<std::map<std::string, std::string>>();
  }
  options.limit = args.value("limit", 0);
  options.order_by = args.value("order_by", "");

  std::optional<Timestamp> cursor;
  {
    auto conn = ctx_.base.pool->acquire();
    cursor = ctx_.store.begin_inform(*conn, kind, ctx_.now());
  }
  if (!options.process_existing) options.after = cursor;

  InformContext context(job.stop_token(), job.deadline(), ctx_.config().logger, ctx_.base.client);
  BatchSink sink(*this, kind, options.process_existing, job.stop_token(), run);
  std::string error;
  try {
    info->controller->run_inform(context, options, sink);
    if (job.stop_requested()) error = "the run was stopped (timeout or shutdown) before it ended";
  } catch (const detail::NoInformer&) {
    auto conn = ctx_.base.pool->acquire();
    ctx_.store.disable_informs(*conn, kind);
    ctx_.log(LogLevel::info,
             fmt::format("informer {}: the controller has no informer; periodic runs off", kind));
    return jobs::complete();
  } catch (const std::exception& e) {
    error = e.what();
  }
  try {
    sink.finish();  // what was emitted before a failure is kept
  } catch (const std::exception& e) {
    if (error.empty()) error = fmt::format("writing objects failed: {}", e.what());
  }
  const bool succeeded = error.empty();
  auto moved_to = sink.cursor(succeeded, run.started_at);
  {
    auto conn = ctx_.base.pool->acquire();
    ctx_.store.end_inform(*conn, kind, moved_to, error, ctx_.now());
  }
  run.finished_at = ctx_.now().value_or(delta::now());
  run.succeeded = succeeded;
  run.error = error;
  run.cursor = cursor;
  if (moved_to && (!cursor || *moved_to > *cursor)) run.cursor = moved_to;
  ctx_.log(succeeded ? LogLevel::info : LogLevel::warn,
           fmt::format("informer {}: {} emitted in {} batches ({} inserted, {} changed, {} "
                       "unchanged, {} stale, {} deleted skipped){}{}",
                       kind, run.emitted, run.batches, run.inserted, run.changed, run.unchanged,
                       run.stale, run.skipped_deleted, succeeded ? "" : "; failed: ", error));
  {
    std::lock_guard lock(runs_mutex_);
    runs_[kind] = run;
  }
  return succeeded ? jobs::complete() : jobs::retry(error);
}

std::optional<InformRun> SyncEngine::last_inform_run(std::string_view kind) const {
  std::lock_guard lock(runs_mutex_);
  auto it = runs_.find(kind);
  if (it == runs_.end()) return std::nullopt;
  return it->second;
}

namespace {
jobs::JobInsert inform_job(const std::string& kind, nlohmann::json args,
                           std::optional<Timestamp> at) {
  jobs::JobInsert insert;
  insert.kind = inform_job_kind(kind);
  insert.args = std::move(args);
  insert.opts.queue = std::string(kInformQueue);
  insert.opts.max_attempts = kInformJobAttempts;
  insert.opts.scheduled_at = at;
  insert.opts.unique.by_args = true;
  insert.opts.unique.by_state = {jobs::JobState::available, jobs::JobState::scheduled,
                                 jobs::JobState::running, jobs::JobState::retryable};
  return insert;
}
}  // namespace

jobs::InsertResult SyncEngine::schedule_inform(const ScheduleInformOpts& opts) {
  if (auto problem = internal::check_name(opts.kind); !problem.empty()) {
    throw ValidationError("kind", problem);
  }
  check_kind_known(opts.kind);
  nlohmann::json args = {{"kind", opts.kind}, {"process_existing", opts.process_existing}};
  if (!opts.options.labels.empty()) args["labels"] = opts.options.labels;
  if (opts.options.limit != 0) args["limit"] = opts.options.limit;
  if (!opts.options.order_by.empty()) args["order_by"] = opts.options.order_by;
  auto insert = inform_job(opts.kind, std::move(args), std::nullopt);
  auto conn = ctx_.base.pool->acquire();
  return ctx_.base.store
      .insert(*conn, std::span<const jobs::JobInsert>(&insert, 1), ctx_.now(), true)
      .front();
}

// ---- the leader's maintenance -----------------------------------------------------------

std::int64_t SyncEngine::run_inform_scheduler() {
  auto tx = ctx_.base.pool->begin();
  auto& conn = tx.connection();
  auto due = ctx_.store.due_informs(conn, ctx_.now());
  std::int64_t inserted = 0;
  const auto jitter = ctx_.config().inform_jitter;
  thread_local std::mt19937_64 random{std::random_device{}()};
  for (const auto& [kind, interval_ms] : due) {
    std::optional<Timestamp> at;
    if (jitter.count() > 0) {
      auto delay = std::uniform_int_distribution<std::int64_t>(0, jitter.count())(random);
      at = ctx_.now().value_or(delta::now()) + std::chrono::milliseconds(delay);
    }
    auto insert = inform_job(kind, {{"kind", kind}, {"process_existing", false}}, at);
    auto result = ctx_.base.store.insert(conn, std::span<const jobs::JobInsert>(&insert, 1),
                                         ctx_.now(), true);
    if (!result.front().unique_skipped_as_duplicate) {
      ++inserted;
      ctx_.log(LogLevel::debug,
               fmt::format("informer {}: run scheduled (every {} ms)", kind, interval_ms));
    }
  }
  tx.commit();
  return inserted;
}

std::int64_t SyncEngine::run_expirer(std::chrono::milliseconds budget) {
  const auto end = std::chrono::steady_clock::now() + budget;
  std::int64_t total = 0;
  for (;;) {
    auto conn = ctx_.base.pool->acquire();
    auto moved = ctx_.store.expire(*conn, kExpireBatch, ctx_.now());
    total += moved;
    if (moved < kExpireBatch || std::chrono::steady_clock::now() >= end) break;
  }
  if (total > 0) {
    ctx_.log(LogLevel::info, fmt::format("expirer: {} synced resources expired", total));
    for (auto& runner : runners_)
      runner->wake();
  }
  return total;
}

std::int64_t SyncEngine::run_cleaner(std::chrono::milliseconds budget) {
  const auto end = std::chrono::steady_clock::now() + budget;
  std::int64_t total = 0;
  for (;;) {
    auto conn = ctx_.base.pool->acquire();
    auto deleted = ctx_.store.clean(*conn, kCleanBatch, ctx_.now());
    total += deleted;
    if (deleted < kCleanBatch) break;
    if (std::chrono::steady_clock::now() >= end) {
      ctx_.log(LogLevel::info, "cleaner: time budget spent; continuing next interval");
      break;
    }
  }
  if (total > 0) {
    ctx_.log(LogLevel::info, fmt::format("cleaner: {} resources past retention deleted", total));
  }
  return total;
}

void SyncEngine::maintenance_loop(std::stop_token stop) {
  using Clock = std::chrono::steady_clock;
  struct Task {
    const char* name;
    std::chrono::milliseconds interval;
    std::function<void()> run;
    Clock::time_point next{};
    internal::LoopBackoff backoff{};
  };
  const Config& config = ctx_.config();
  const auto budget = std::min(config.cleaner_interval, std::chrono::milliseconds(60000));
  std::vector<Task> tasks;
  tasks.push_back({"lease rescue", config.rescuer_interval, [this] { run_rescuer(); }});
  tasks.push_back(
      {"inform scheduler", config.maintenance_interval, [this] { run_inform_scheduler(); }});
  tasks.push_back({"expirer", config.maintenance_interval,
                   [this, &config] { run_expirer(config.maintenance_interval); }});
  tasks.push_back({"cleaner", config.cleaner_interval, [this, budget] { run_cleaner(budget); }});
  bool was_leader = false;
  std::mutex mutex;
  std::condition_variable_any wake;
  while (!stop.stop_requested()) {
    auto now = Clock::now();
    auto next = now + std::min(config.rescuer_interval, std::chrono::milliseconds(1000));
    const bool leader = jobs_.is_leader();
    if (leader && !was_leader) {
      for (auto& task : tasks)
        task.next = now;  // a new leader runs everything at once
    }
    was_leader = leader;
    if (leader) {
      for (auto& task : tasks) {
        if (stop.stop_requested()) break;
        if (Clock::now() < task.next) {
          next = std::min(next, task.next);
          continue;
        }
        auto wait = task.interval;
        try {
          task.run();
          task.backoff.succeeded();
        } catch (const std::exception& e) {
          wait = std::min(wait, task.backoff.failed());
          ctx_.log(LogLevel::warn, fmt::format("resource {} failed (retrying in {} ms): {}",
                                               task.name, wait.count(), e.what()));
        }
        task.next = Clock::now() + wait;
        next = std::min(next, task.next);
      }
    }
    std::unique_lock lock(mutex);
    wake.wait_until(lock, stop, next, [] { return false; });
  }
}

}  // namespace delta::sync
