#include "jobs/queue_runner.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/invariant.hpp"
#include "jobs/outcome.hpp"
#include "runtime/failure.hpp"
#include "runtime/fence.hpp"
#include "runtime/hooks.hpp"

namespace delta::jobs {

namespace {
constexpr std::chrono::milliseconds kFetchCooldown{2};

// delta_jobs_total's result label: the attempt's event, or "released" (given back unrun
// at shutdown), in KindMetrics::results order.
constexpr std::array<JobEventKind, 5> kResultEvents{JobEventKind::completed, JobEventKind::failed,
                                                    JobEventKind::cancelled,
                                                    JobEventKind::discarded, JobEventKind::snoozed};
// The fields of a record logged through a JobContext (detail::LogScope).
void job_fields(const void* what, std::vector<LogField>& fields) {
  const auto& job = *static_cast<const JobRow*>(what);
  fields.push_back({"job_id", job.id});
  fields.push_back({"queue", job.queue});
  fields.push_back({"kind", job.kind});
  fields.push_back({"attempt", job.attempt});
}

std::size_t result_index(const std::optional<JobEventKind>& event) {
  for (std::size_t i = 0; i < kResultEvents.size(); ++i) {
    if (event == kResultEvents[i]) return i;
  }
  return kResultEvents.size();
}
}  // namespace

QueueRunner::QueueRunner(JobsContext& ctx, Completer& completer, runtime::Watchdog& watchdog,
                         std::string queue, int max_workers)
    : ctx_(ctx),
      completer_(completer),
      watchdog_(watchdog),
      queue_(std::move(queue)),
      max_workers_(max_workers),
      cursor_(1, ctx.options.poll_interval),
      pool_(mutex_, {.pick = {},
                     .running_of = [](const Fetched& fetched) { return fetched.job.id; },
                     .run =
                         [this](Fetched& fetched) {
                           execute(fetched.job, fetched.epoch, fetched.start_at);
                         },
                     .finished =
                         [this](const std::int64_t&, std::unique_lock<std::mutex>& lock) {
                           --in_flight_;
                           // The fetcher waits for a refill or for a NOTIFY / poll; a freed
                           // slot matters to it only in the first case.
                           if (refill_due() || capped_) {
                             lock.unlock();
                             fetcher_cv_.notify_all();
                             lock.lock();
                           }
                         }}) {
  for (const auto& kind : ctx_.options.workers.kinds()) {
    const auto& worker = *ctx_.options.workers.find(kind);
    auto timeout = worker->timeout();
    if (timeout == kDefaultTimeout) timeout = ctx_.options.job_timeout;
    kinds_.push_back(kind);
    timeouts_ms_.push_back(timeout.count() < 0 ? -1 : timeout.count());
    KindMetrics& counted = metrics_.emplace_back();
    for (std::size_t result = 0; result < counted.results.size(); ++result) {
      const std::string label = result < kResultEvents.size()
                                    ? std::string(to_string(kResultEvents[result]))
                                    : std::string("released");
      counted.results[result] =
          &ctx_.runtime.metrics->counter("delta_jobs_total", "Job attempts, by how they ended.",
                                         {"queue", "kind", "result"}, {queue_, kind, label});
    }
    counted.duration = &ctx_.runtime.metrics->histogram(
        "delta_job_duration_seconds", "How long a job's attempt ran, in seconds.",
        runtime::duration_buckets(), {"queue", "kind"}, {queue_, kind});
  }
}

void QueueRunner::start() {
  pool_.start(max_workers_);
  fetcher_ = std::jthread([this](std::stop_token stop) { fetch_loop(stop); });
}

void QueueRunner::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
    cursor_.reset();
  }
  fetcher_cv_.notify_all();
}

int QueueRunner::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

std::vector<std::int64_t> QueueRunner::running_ids() const {
  std::lock_guard lock(mutex_);
  return pool_.running();
}

void QueueRunner::fetch_loop(std::stop_token stop) {
  internal::LoopBackoff backoff;
  while (!stop.stop_requested()) {
    int free_slots = 0;
    std::vector<std::optional<FetchKey>> after;
    // Outcomes are written behind the work: while they pile up, fetch nothing more (a
    // worker's slot comes free when its outcome is handed over, not when it is written).
    const bool backlogged = completer_.backlogged();
    // A fenced client fetches nothing (runtime/fence.hpp).
    const bool fenced = ctx_.runtime.fence != nullptr && ctx_.runtime.fence->fenced();
    const std::uint64_t epoch = ctx_.runtime.fence != nullptr ? ctx_.runtime.fence->epoch() : 0;
    {
      std::lock_guard lock(mutex_);
      if (!fetching_) break;
      free_slots = backlogged || fenced ? 0 : max_workers_ - in_flight_;
      wake_ = false;
      if (free_slots > 0) after = cursor_.begin(std::chrono::steady_clock::now());
    }
    std::chrono::milliseconds wait = ctx_.options.poll_interval;
    bool rate_wait = false;  // the wait ends when the rate limiter has starts again
    if (free_slots > 0 && !kinds_.empty()) {
      try {
        auto conn = ctx_.pool().acquire();
        try {
          ctx_.flow->refresh_if_stale(*conn);
        } catch (const std::exception&) {
          // Logged; fetches go on under the limits last read.
          ctx_.runtime.count_error("flow limits");
        }
        std::vector<JobRow> jobs;
        std::vector<std::chrono::steady_clock::time_point> starts;
        bool limited = false, capped = false;
        std::optional<std::chrono::steady_clock::time_point> next_due;
        if (ctx_.flow->limited(queue_)) {
          auto limited_fetch =
              ctx_.store.fetch_limited(*conn, *ctx_.flow_store, queue_, kinds_, timeouts_ms_,
                                       free_slots, ctx_.id(), ctx_.now(), after.front());
          jobs = std::move(limited_fetch.jobs);
          starts = std::move(limited_fetch.starts);
          next_due = limited_fetch.next_due;
          capped = limited_fetch.capped;
          limited = true;
        } else {
          jobs = ctx_.store.fetch(*conn, queue_, kinds_, timeouts_ms_, free_slots, ctx_.id(),
                                  ctx_.now(), after.front());
        }
        conn.release();
        backoff.succeeded();
        ++fetches_;
        fetched_ += static_cast<std::int64_t>(jobs.size());
        std::lock_guard lock(mutex_);
        more_ = static_cast<int>(jobs.size()) == free_slots;
        decltype(cursor_)::Claimed fetched;
        fetched.asked = free_slots;
        fetched.got = static_cast<std::int32_t>(jobs.size());
        if (!jobs.empty()) {
          const JobRow& last = jobs.back();  // jobs come in fetch order
          fetched.last = FetchKey{last.priority, last.scheduled_at, last.id};
        }
        // A limited fetch cut short by the limits is no sign that jobs ran out.
        if ((!limited || more_) && cursor_.claimed(after, {fetched}, false)) {
          wake_ = true;  // look behind it now
        }
        capped_ = limited && capped;
        in_flight_ += static_cast<int>(jobs.size());
        for (std::size_t i = 0; i < jobs.size(); ++i) {
          pool_.ready().push_back(
              {std::move(jobs[i]), epoch,
               i < starts.size() ? starts[i] : std::chrono::steady_clock::time_point{}});
        }
        pool_.wake_one();
        if (next_due) {
          // The rate limiter's next starts are due then: fetch again at that time.
          const auto until = std::chrono::ceil<std::chrono::milliseconds>(
              *next_due - std::chrono::steady_clock::now());
          wait = std::clamp(until, std::chrono::milliseconds(1), wait);
          rate_wait = true;
        }
      } catch (const std::exception& e) {
        wait = backoff.failed();
        ctx_.runtime.count_error("job fetch");
        ctx_.log(LogLevel::warn,
                 fmt::format("queue {}: fetch failed (retrying in {} ms): {}", queue_, wait.count(),
                             e.what()),
                 {{"queue", queue_}, {"retry_in_ms", wait.count()}, {"error", e.what()}});
        // Nothing is known to be waiting any more: a `more_` left from the last full batch
        // would cut the backoff to the refill cooldown (a fetch every 2 ms while the
        // database is away).
        std::lock_guard lock(mutex_);
        more_ = false;
      }
    }
    // A refill once half the slots are free, or after a short cooldown if fewer are.
    std::unique_lock lock(mutex_);
    if (more_ && in_flight_ < max_workers_ && !rate_wait) wait = std::min(wait, kFetchCooldown);
    if (backlogged) wait = std::min(wait, kFetchCooldown);
    fetcher_cv_.wait_for(lock, stop, wait, [&] { return !fetching_ || wake_ || refill_due(); });
  }
}

void QueueRunner::execute(const JobRow& job, std::uint64_t epoch,
                          std::chrono::steady_clock::time_point start_at) {
  Completion completion;
  completion.id = job.id;
  completion.attempt = job.attempt;
  completion.attempted_by = ctx_.id();
  const auto now = ctx_.now();
  // Events copy the job; nobody listening, nothing to build.
  auto event = [&](JobEventKind kind, std::string error) -> std::optional<JobEvent> {
    if (ctx_.events.empty()) return std::nullopt;
    return JobEvent{kind, job, std::move(error)};
  };

  if (const auto* fence = ctx_.runtime.fence;
      fence != nullptr && (fence->fenced() || epoch != fence->epoch())) {
    // Fenced since it was fetched (it may have been rescued): given back unstarted
    // (refused if it was rescued).
    completion.state = JobState::available;
    completion.give_back_attempt = true;
    completer_.submit(std::move(completion), std::nullopt);
    return;
  }
  if (start_at > std::chrono::steady_clock::now()) {
    std::unique_lock lock(mutex_);
    start_cv_.wait_until(lock, start_at, [&] { return !fetching_; });
    if (!fetching_) {
      // Stopped before the rate limiter's turn came: given back unstarted.
      lock.unlock();
      completion.state = JobState::available;
      completion.give_back_attempt = true;
      completer_.submit(std::move(completion), std::nullopt, frees());
      return;
    }
  }
  const auto* worker = ctx_.options.workers.find(job.kind);
  if (worker == nullptr) {
    // The fetch asks only for kinds this client has workers for.
    ctx_.log(LogLevel::error,
             internal::invariant_message(fmt::format("fetched job {} of kind {}, which has no "
                                                     "worker here; giving it back",
                                                     job.id, job.kind)));
    completion.state = JobState::available;
    completion.give_back_attempt = true;
    completer_.submit(std::move(completion), std::nullopt);
    return;
  }
  if (job.attempt > job.max_attempts) {
    // Rescued by a leader that did not know this kind, after the last attempt.
    completion.state = JobState::discarded;
    completion.error = runtime::error_entry(job.attempt, now, "no attempts left", "exhausted");
    completer_.submit(std::move(completion), event(JobEventKind::discarded, "no attempts left"));
    return;
  }

  auto timeout = (*worker)->timeout();
  if (timeout == kDefaultTimeout) timeout = ctx_.options.job_timeout;
  const auto deadline = timeout.count() < 0 ? std::chrono::steady_clock::time_point::max()
                                            : std::chrono::steady_clock::now() + timeout;
  std::stop_token token = watchdog_.add(job.id, deadline);
  JobContext context(token, deadline, ctx_.runtime.options.logger, ctx_.runtime.client,
                     {&job_fields, &job});
  const runtime::HookCalls* hooks = ctx_.runtime.hooks.get();
  JobSpan span;
  if (hooks != nullptr) {
    span = {job.id, job.queue, job.kind, job.attempt, delta::now()};
    hooks->each([&](Hooks& hook) { hook.job_started(span); });
  }

  AttemptEnd end;
  const auto started = std::chrono::steady_clock::now();
  end.result = runtime::run_catching([&] { return (*worker)->run(context, job); }, end.failure);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  end.flags = watchdog_.remove(job.id);
  end.timeout = timeout;
  auto outcome = attempt_outcome(
      job, ctx_.id(), now, std::move(end),
      [&] {
        auto custom = (*worker)->next_retry(job);
        return custom ? *custom : ctx_.options.retry_policy->next_retry(job);
      },
      [&](const std::string& message) {
        ctx_.log(
            LogLevel::warn, fmt::format("job {}: retry policy failed: {}", job.id, message),
            {{"job_id", job.id}, {"queue", job.queue}, {"kind", job.kind}, {"error", message}});
      });
  const auto kind_index =
      static_cast<std::size_t>(std::find(kinds_.begin(), kinds_.end(), job.kind) - kinds_.begin());
  if (kind_index < metrics_.size()) {
    metrics_[kind_index].results[result_index(outcome.event)]->add();
    metrics_[kind_index].duration->observe(took.count());
  }
  if (hooks != nullptr) {
    const bool failed = outcome.event && outcome.event != JobEventKind::completed &&
                        outcome.event != JobEventKind::snoozed;
    const SpanEnd ended{outcome.event ? to_string(*outcome.event) : std::string_view("released"),
                        failed ? outcome.event_error : std::string_view(),
                        std::chrono::duration_cast<std::chrono::nanoseconds>(took)};
    hooks->each([&](Hooks& hook) { hook.job_finished(span, ended); }, true);
  }
  std::optional<JobEvent> published;
  if (outcome.event) published = event(*outcome.event, std::move(outcome.event_error));
  completer_.submit(std::move(outcome.completion), std::move(published), frees());
}

std::string QueueRunner::frees() const {
  // Others may wait for the capacity this frees only while the cap is reached.
  if (!capped_.load(std::memory_order_relaxed)) return {};
  auto limit = ctx_.flow->in_force(queue_);
  return limit && limit->concurrency ? queue_ : std::string();
}

void QueueRunner::stop_fetching() {
  {
    std::lock_guard lock(mutex_);
    fetching_ = false;
  }
  start_cv_.notify_all();
  fetcher_cv_.notify_all();
  if (fetcher_.joinable()) {
    fetcher_.request_stop();
    fetcher_.join();
  }
  release_buffered();
}

void QueueRunner::release_buffered() {
  std::vector<std::int64_t> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& fetched : pool_.take_ready())
      ids.push_back(fetched.job.id);
    in_flight_ -= static_cast<int>(ids.size());
  }
  if (ids.empty()) return;
  try {
    auto conn = ctx_.pool().acquire();
    ctx_.store.release(*conn, ids, ctx_.id(), ctx_.now());
  } catch (const std::exception& e) {
    ctx_.log(LogLevel::warn,
             fmt::format("queue {}: could not release {} unstarted jobs (the rescuer will): {}",
                         queue_, ids.size(), e.what()));
  }
}

void QueueRunner::join() {
  pool_.join();
  ctx_.log(LogLevel::debug, fmt::format("queue {}: {} fetches brought {} jobs", queue_,
                                        fetches_.load(), fetched_.load()));
}

}  // namespace delta::jobs
