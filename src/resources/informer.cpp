#include "resources/informer.hpp"

#include <deque>
#include <future>
#include <memory>

#include <fmt/format.h>

#include "common/validate.hpp"
#include "runtime/hooks.hpp"

namespace delta::resources {

namespace {

// Objects per write statement of an informer run, and statements written at once.
constexpr std::size_t kSinkBatch = 2500;
constexpr std::size_t kSinkInFlight = 2;
constexpr int kInformJobAttempts = 10;

// Collects an informer's objects and writes them in batches; tracks the cursor. Up to
// kSinkInFlight batches are written at once on their own connections while the informer
// goes on emitting; the cursor only moves over batches that were written, in order.
class BatchSink final : public detail::SinkBackend {
 public:
  // Every `progress_every` (0: never) while the run goes on, `progress` is called between
  // two objects, on the informer's thread.
  using Progress = std::function<void(const InformRun&)>;
  BatchSink(InformWriter& writer, std::string kind, bool force, std::stop_token stop,
            InformRun& run, std::chrono::milliseconds progress_every, Progress progress)
      : writer_(writer),
        kind_(std::move(kind)),
        force_(force),
        stop_(std::move(stop)),
        run_(run),
        progress_every_(progress_every),
        progress_(std::move(progress)),
        next_progress_(std::chrono::steady_clock::now() + progress_every) {
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
    auto rows = writer_.prepare(std::span<const detail::ObjectData>(&object, 1));
    // A resync's unchanged objects are background work, unless the object says otherwise.
    rows.front().resync = force_ && !rows.front().priority;
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
    if (progress_every_.count() > 0 && std::chrono::steady_clock::now() >= next_progress_) {
      next_progress_ = std::chrono::steady_clock::now() + progress_every_;
      progress_(run_);
    }
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
    std::vector<UpsertRow> rows;
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
      return writer_.write_prepared(nullptr, kind_, batch->objects, batch->rows, false);
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

  InformWriter& writer_;
  const std::string kind_;
  const bool force_;
  std::stop_token stop_;
  InformRun& run_;
  const std::chrono::milliseconds progress_every_;
  const Progress progress_;
  std::chrono::steady_clock::time_point next_progress_;
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

namespace {

runtime::Counter& runs_counter(runtime::Metrics& metrics, const std::string& kind, bool succeeded) {
  return metrics.counter("delta_informer_runs_total", "Informer runs, by whether they succeeded.",
                         {"kind", "result"}, {kind, succeeded ? "success" : "failure"});
}

runtime::Gauge& running_gauge(runtime::Metrics& metrics, const std::string& kind) {
  return metrics.gauge("delta_informer_running",
                       "1 while an informer run of the kind goes on in this process.", {"kind"},
                       {kind});
}

runtime::Gauge& run_objects_gauge(runtime::Metrics& metrics, const std::string& kind) {
  return metrics.gauge("delta_informer_run_objects",
                       "Objects the current (else the last) informer run of the kind in this "
                       "process emitted so far.",
                       {"kind"}, {kind});
}

std::int64_t written(const InformRun& run) {
  return static_cast<std::int64_t>(run.inserted + run.changed + run.unchanged + run.stale +
                                   run.skipped_deleted);
}

InformProgress progress_of(const InformRun& run, std::chrono::steady_clock::time_point started) {
  InformProgress progress;
  progress.emitted = static_cast<std::int64_t>(run.emitted);
  progress.written = written(run);
  progress.inserted = static_cast<std::int64_t>(run.inserted);
  progress.changed = static_cast<std::int64_t>(run.changed);
  progress.unchanged = static_cast<std::int64_t>(run.unchanged);
  progress.stale = static_cast<std::int64_t>(run.stale);
  progress.elapsed = std::chrono::steady_clock::now() - started;
  return progress;
}

double milliseconds_of(std::chrono::nanoseconds elapsed) {
  return std::chrono::duration<double, std::milli>(elapsed).count();
}

}  // namespace

Informers::Informers(ResourcesContext& ctx, InformWriter& writer, jobs::JobsEngine& jobs)
    : ctx_(ctx), writer_(writer), jobs_(jobs) {
  // Both series exist from the start (at 0), so that rate() and alerts see the first run.
  for (const auto& info : ctx_.kinds) {
    runs_counter(*ctx_.runtime.metrics, info.kind, true);
    runs_counter(*ctx_.runtime.metrics, info.kind, false);
    running_gauge(*ctx_.runtime.metrics, info.kind);
    run_objects_gauge(*ctx_.runtime.metrics, info.kind);
  }
}

namespace {
// The fields of a record logged through an InformContext (detail::LogScope).
void inform_fields(const void* what, std::vector<LogField>& fields) {
  fields.push_back({"kind", *static_cast<const std::string*>(what)});
}
}  // namespace

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
  Informers* informers = link_->informers.load();
  if (informers == nullptr) return jobs::snooze(std::chrono::seconds(1));
  return informers->run(ctx, std::string(controller_->kind()), row.args);
}

jobs::JobResult Informers::run(jobs::JobContext& job, const std::string& kind,
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
    auto conn = ctx_.pool().acquire();
    cursor = ctx_.store.begin_inform(*conn, kind, ctx_.now());
  }
  if (!options.process_existing) options.after = cursor;

  auto& metrics = *ctx_.runtime.metrics;
  runtime::Gauge& running = running_gauge(metrics, kind);
  runtime::Gauge& objects = run_objects_gauge(metrics, kind);
  const runtime::HookCalls* hooks = ctx_.runtime.hooks.get();
  const InformSpan span{kind, options.process_existing, options.after, run.started_at};
  const auto started = std::chrono::steady_clock::now();
  auto report = [&](const InformRun& so_far) {
    const InformProgress progress = progress_of(so_far, started);
    objects.set(static_cast<double>(progress.emitted));
    ctx_.log(
        LogLevel::info,
        fmt::format("informer {}: {} emitted so far, {} written ({} inserted, {} changed, {} "
                    "unchanged, {} stale) in {:.1f} s",
                    kind, progress.emitted, progress.written, progress.inserted, progress.changed,
                    progress.unchanged, progress.stale, milliseconds_of(progress.elapsed) / 1000),
        {{"kind", kind},
         {"emitted", progress.emitted},
         {"written", progress.written},
         {"elapsed_ms", milliseconds_of(progress.elapsed)}});
    if (hooks != nullptr) {
      hooks->each([&](Hooks& hook) { hook.inform_progress(span, progress); });
    }
  };
  InformContext context(job.stop_token(), job.deadline(), ctx_.runtime.options.logger,
                        ctx_.runtime.client, {&inform_fields, &kind});
  BatchSink sink(writer_, kind, options.process_existing, job.stop_token(), run,
                 ctx_.options.inform_progress_interval, report);
  running.set(1);
  objects.set(0);
  if (hooks != nullptr) hooks->each([&](Hooks& hook) { hook.inform_started(span); });
  // Whatever ends the run, the gauge and the hooks hear of it.
  auto finished = [&](bool succeeded, std::string_view error) {
    running.set(0);
    objects.set(static_cast<double>(run.emitted));
    if (hooks == nullptr) return;
    const SpanEnd ended{succeeded ? "success" : "failure", error,
                        std::chrono::steady_clock::now() - started};
    hooks->each([&](Hooks& hook) { hook.inform_finished(span, ended); }, true);
  };
  std::string error;
  try {
    info->controller->run_inform(context, options, sink);
    if (job.stop_requested()) error = "the run was stopped (timeout or shutdown) before it ended";
  } catch (const detail::NoInformer&) {
    finished(true, {});
    auto conn = ctx_.pool().acquire();
    ctx_.store.disable_informs(*conn, kind);
    ctx_.log(LogLevel::info,
             fmt::format("informer {}: the controller has no informer; periodic runs off", kind),
             {{"kind", kind}});
    return jobs::complete();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "the informer threw an exception not derived from std::exception";
  }
  try {
    sink.finish();  // what was emitted before a failure is kept
  } catch (const std::exception& e) {
    if (error.empty()) error = fmt::format("writing objects failed: {}", e.what());
  }
  const bool succeeded = error.empty();
  auto moved_to = sink.cursor(succeeded, run.started_at);
  run.succeeded = succeeded;
  run.error = error;
  try {
    auto conn = ctx_.pool().acquire();
    ctx_.store.end_inform(*conn, run, moved_to, ctx_.now());
  } catch (const std::exception& e) {
    finished(false, e.what());
    throw;
  }
  finished(succeeded, error);
  run.finished_at = ctx_.now().value_or(delta::now());
  runs_counter(metrics, kind, succeeded).add();
  if (succeeded) {
    metrics
        .gauge("delta_informer_last_success_timestamp_seconds",
               "When the last successful informer run of the kind in this process ended "
               "(Unix time).",
               {"kind"}, {kind})
        .set(std::chrono::duration<double>(run.finished_at.time_since_epoch()).count());
  }
  run.cursor = cursor;
  if (moved_to && (!cursor || *moved_to > *cursor)) run.cursor = moved_to;
  const double took_ms = milliseconds_of(std::chrono::steady_clock::now() - started);
  std::vector<LogField> fields{{"kind", kind},           {"emitted", run.emitted},
                               {"batches", run.batches}, {"inserted", run.inserted},
                               {"changed", run.changed}, {"unchanged", run.unchanged},
                               {"stale", run.stale},     {"skipped_deleted", run.skipped_deleted},
                               {"duration_ms", took_ms}};
  if (!succeeded) fields.push_back({"error", error});
  ctx_.runtime.options.logger.log(
      succeeded ? LogLevel::info : LogLevel::warn,
      fmt::format("informer {}: {} emitted in {} batches ({} inserted, {} changed, {} "
                  "unchanged, {} stale, {} deleted skipped) in {:.1f} s{}{}",
                  kind, run.emitted, run.batches, run.inserted, run.changed, run.unchanged,
                  run.stale, run.skipped_deleted, took_ms / 1000,
                  succeeded ? "" : "; failed: ", error),
      fields);
  {
    std::lock_guard lock(runs_mutex_);
    runs_[kind] = run;
  }
  return succeeded ? jobs::complete() : jobs::retry(error);
}

std::optional<InformRun> Informers::last_run(std::string_view kind) const {
  std::lock_guard lock(runs_mutex_);
  auto it = runs_.find(kind);
  if (it == runs_.end()) return std::nullopt;
  return it->second;
}

jobs::InsertResult Informers::schedule(const ScheduleInformOpts& opts) {
  if (auto problem = internal::check_name(opts.kind); !problem.empty()) {
    throw ValidationError("kind", problem);
  }
  writer_.check_kind_known(opts.kind);
  nlohmann::json args = {{"kind", opts.kind}, {"process_existing", opts.process_existing}};
  if (!opts.options.labels.empty()) args["labels"] = opts.options.labels;
  if (opts.options.limit != 0) args["limit"] = opts.options.limit;
  if (!opts.options.order_by.empty()) args["order_by"] = opts.options.order_by;
  auto insert = inform_job(opts.kind, std::move(args), std::nullopt);
  auto conn = ctx_.pool().acquire();
  return jobs_.insert_own(*conn, insert);
}

}  // namespace delta::resources
