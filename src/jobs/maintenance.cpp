#include "jobs/maintenance.hpp"

#include <fmt/format.h>

#include "jobs/validate_insert.hpp"
#include "runtime/failure.hpp"

namespace delta::jobs {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBatch = 1000;
constexpr auto kCleanerBudget = std::chrono::seconds(5);
constexpr auto kPruneClientsAfter = std::chrono::hours(24);

}  // namespace

void Maintenance::register_tasks(runtime::LeaderTasks& tasks, runtime::Elector& elector) {
  const std::string lane(kLane);
  const auto& options = ctx_.options;
  tasks.add(lane, "job scheduler", options.scheduler_interval, [this] { run_scheduler(); });
  tasks.add(lane, "job rescuer", options.rescuer_interval, [this] { run_rescuer(); });
  tasks.add(lane, "job cleaner", options.job_cleaner_interval, [this] { run_cleaner(); });
  if (!options.periodic_jobs.empty()) {
    const auto check = std::min(options.poll_interval, std::chrono::milliseconds(1000));
    tasks.add(lane, "periodic jobs", check, [this] { run_periodic(); });
  }
  elector.on_elected([this] { periodic_ensured_ = false; });
}

std::int64_t Maintenance::run_scheduler() {
  std::int64_t total = 0;
  for (;;) {
    auto conn = ctx_.pool().acquire();
    auto moved = ctx_.store.schedule(*conn, kBatch, ctx_.now());
    total += moved;
    if (moved < kBatch) break;
  }
  return total;
}

std::int64_t Maintenance::run_rescuer() {
  std::int64_t total = 0;
  for (;;) {
    auto tx = ctx_.pool().begin();
    auto stuck = ctx_.store.lock_stuck(tx.connection(), ctx_.runtime.options.client_ttl.count(),
                                       ctx_.options.rescue_margin.count(), kBatch, ctx_.now());
    if (stuck.empty()) break;
    std::vector<Rescue> rescues;
    rescues.reserve(stuck.size());
    for (const auto& candidate : stuck) {
      const JobRow& job = candidate.job;
      Rescue rescue;
      rescue.id = job.id;
      rescue.attempt = job.attempt;
      const auto* worker = ctx_.options.workers.find(job.kind);
      std::string message = "job rescued: " + candidate.reason;
      rescue.error = runtime::error_entry(job.attempt, ctx_.now(), message, "rescue");
      if (worker != nullptr && job.attempt >= job.max_attempts) {
        rescue.state = JobState::discarded;
      } else {
        // A kind this leader does not know is never discarded here: a client that knows
        // it decides when it fetches the job again.
        rescue.state = JobState::retryable;
        std::optional<std::chrono::milliseconds> custom;
        if (worker != nullptr) custom = (*worker)->next_retry(job);
        rescue.delay_ms =
            custom ? custom->count() : ctx_.options.retry_policy->next_retry(job).count();
      }
      rescues.push_back(std::move(rescue));
      ctx_.log(LogLevel::warn,
               fmt::format("rescuing job {} ({}, attempt {}): {}", job.id, job.kind, job.attempt,
                           candidate.reason),
               {{"job_id", job.id},
                {"queue", job.queue},
                {"kind", job.kind},
                {"attempt", job.attempt},
                {"reason", candidate.reason}});
    }
    ctx_.store.rescue(tx.connection(), rescues, ctx_.now());
    tx.commit();
    total += static_cast<std::int64_t>(rescues.size());
    if (static_cast<int>(stuck.size()) < kBatch) break;
  }
  return total;
}

std::int64_t Maintenance::run_cleaner() {
  std::int64_t total = 0;
  const auto deadline = Clock::now() + kCleanerBudget;
  while (Clock::now() < deadline) {
    auto conn = ctx_.pool().acquire();
    auto deleted =
        ctx_.store.clean(*conn, ctx_.options.completed_job_retention.count(),
                         ctx_.options.cancelled_job_retention.count(),
                         ctx_.options.discarded_job_retention.count(), kBatch, ctx_.now());
    total += deleted;
    if (deleted < kBatch) break;
  }
  {
    auto conn = ctx_.pool().acquire();
    ctx_.store.prune_clients(
        *conn, std::chrono::duration_cast<std::chrono::milliseconds>(kPruneClientsAfter).count(),
        ctx_.now());
  }
  if (total > 0) {
    ctx_.log(LogLevel::info, fmt::format("cleaner deleted {} finished jobs", total),
             {{"deleted", total}});
  }
  return total;
}

std::int64_t Maintenance::run_periodic() {
  if (!periodic_ensured_) {
    // Record every schedule this client knows (a no-op for those already recorded).
    auto conn = ctx_.pool().acquire();
    for (const auto& periodic : ctx_.options.periodic_jobs) {
      ctx_.store.ensure_periodic(*conn, periodic.name, periodic.interval.count(),
                                 periodic.run_on_start, ctx_.now());
    }
    periodic_ensured_ = true;
  }
  std::int64_t inserted = 0;
  for (const auto& periodic : ctx_.options.periodic_jobs) {
    try {
      auto tx = ctx_.pool().begin();
      if (!ctx_.store.claim_periodic(tx.connection(), periodic.name, periodic.interval.count(),
                                     ctx_.now())) {
        continue;
      }
      JobInsert job = periodic.make();
      validate_insert(job, "periodic job " + periodic.name);
      ctx_.store.insert(tx.connection(), std::span<const JobInsert>(&job, 1), ctx_.now(), true);
      tx.commit();
      ++inserted;
    } catch (const std::exception& e) {
      ctx_.log(LogLevel::warn,
               fmt::format("periodic job {} failed (will retry): {}", periodic.name, e.what()),
               {{"periodic_job", periodic.name}, {"error", e.what()}});
    }
  }
  return inserted;
}

}  // namespace delta::jobs
