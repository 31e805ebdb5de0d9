// Heartbeats, leader election, and the leader's services: scheduler, rescuer, cleaner,
// periodic jobs.
#include <fmt/format.h>
#include <unistd.h>

#include "jobs/engine.hpp"

namespace delta::jobs {

namespace {

using Clock = std::chrono::steady_clock;

std::string hostname() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

constexpr int kBatch = 1000;
constexpr auto kCleanerBudget = std::chrono::seconds(5);
constexpr auto kPruneClientsAfter = std::chrono::hours(24);

}  // namespace

void Maintainer::start() {
  heartbeat();  // registered before any job is fetched, so the rescuer knows this client
  pulse_thread_ = std::jthread([this](std::stop_token stop) { pulse(stop); });
  services_thread_ = std::jthread([this](std::stop_token stop) { services(stop); });
}

void Maintainer::stop() {
  for (auto* thread : {&pulse_thread_, &services_thread_}) {
    if (thread->joinable()) {
      thread->request_stop();
      wake_.notify_all();
      thread->join();
    }
  }
  try {
    on_pulse_connection([&](pg::Connection& conn) {
      if (leader_) ctx_.store.resign(conn, ctx_.config.id);
      ctx_.store.mark_stopped(conn, ctx_.config.id, ctx_.now());
    });
  } catch (const std::exception& e) {
    ctx_.log(LogLevel::warn,
             fmt::format("could not resign or mark the client stopped: {}", e.what()));
  }
  pulse_conn_.reset();
  leader_ = false;
}

template <class F>
void Maintainer::on_pulse_connection(F&& body) {
  if (pulse_conn_ && !pulse_conn_->check_alive()) pulse_conn_.reset();
  if (!pulse_conn_) {
    pg::ConnectOptions options;
    options.url = ctx_.pool->url();
    options.connect_timeout = ctx_.pool->options().connect_timeout;
    options.application_name = ctx_.pool->options().application_name;
    options.statement_timeout = ctx_.config.heartbeat_interval * 2;
    pulse_conn_ = pg::Connection::open(options);
  }
  try {
    body(*pulse_conn_);
  } catch (const DatabaseError& e) {
    if (e.kind() == DatabaseErrorKind::connection || pulse_conn_->broken()) pulse_conn_.reset();
    throw;
  }
}

void Maintainer::wake_election() {
  {
    std::lock_guard lock(mutex_);
    election_requested_ = true;
  }
  wake_.notify_all();
}

bool Maintainer::is_leader() const {
  return leader_ && Clock::now().time_since_epoch().count() < leader_until_.load();
}

void Maintainer::heartbeat() {
  nlohmann::json metadata = {{"queues", nlohmann::json::array()},
                             {"kinds", ctx_.config.workers.kinds()}};
  for (const auto& [name, queue] : ctx_.config.queues) {
    metadata["queues"].push_back({{"name", name}, {"max_workers", queue.max_workers}});
  }
  on_pulse_connection([&](pg::Connection& conn) {
    ctx_.store.heartbeat(conn, ctx_.config.id, hostname(), static_cast<int>(::getpid()), metadata,
                         ctx_.now());
  });
}

void Maintainer::elect() {
  const auto attempt_started = Clock::now();
  bool elected = false;
  on_pulse_connection([&](pg::Connection& conn) {
    elected = ctx_.store.elect(conn, ctx_.config.id, ctx_.config.leader_ttl.count(), ctx_.now());
  });
  if (elected) {
    // Count the lease from before the statement ran, so this client never believes in a
    // lease longer than the database granted.
    leader_until_ = (attempt_started + ctx_.config.leader_ttl).time_since_epoch().count();
    if (!leader_.exchange(true)) {
      ctx_.log(LogLevel::info, fmt::format("client {} is now the leader", ctx_.config.id));
      periodic_ensured_ = false;
      wake_.notify_all();  // the services thread starts at once
    }
  } else if (leader_.exchange(false)) {
    ctx_.log(LogLevel::warn, fmt::format("client {} lost the leadership", ctx_.config.id));
  }
}

std::int64_t Maintainer::run_scheduler() {
  std::int64_t total = 0;
  for (;;) {
    auto conn = ctx_.pool->acquire();
    auto moved = ctx_.store.schedule(*conn, kBatch, ctx_.now());
    total += moved;
    if (moved < kBatch) break;
  }
  return total;
}

std::int64_t Maintainer::run_rescuer() {
  std::int64_t total = 0;
  for (;;) {
    auto tx = ctx_.pool->begin();
    auto stuck = ctx_.store.lock_stuck(tx.connection(), ctx_.config.client_ttl.count(),
                                       ctx_.config.rescue_margin.count(), kBatch, ctx_.now());
    if (stuck.empty()) break;
    std::vector<Rescue> rescues;
    rescues.reserve(stuck.size());
    for (const auto& candidate : stuck) {
      const JobRow& job = candidate.job;
      Rescue rescue;
      rescue.id = job.id;
      rescue.attempt = job.attempt;
      const auto* worker = ctx_.config.workers.find(job.kind);
      std::string message = "job rescued: " + candidate.reason;
      rescue.error = error_entry(job.attempt, ctx_.now(), message, "rescue");
      if (worker != nullptr && job.attempt >= job.max_attempts) {
        rescue.state = JobState::discarded;
      } else {
        // A kind this leader does not know is never discarded here: a client that knows
        // it decides when it fetches the job again.
        rescue.state = JobState::retryable;
        std::optional<std::chrono::milliseconds> custom;
        if (worker != nullptr) custom = (*worker)->next_retry(job);
        rescue.delay_ms =
            custom ? custom->count() : ctx_.config.retry_policy->next_retry(job).count();
      }
      rescues.push_back(std::move(rescue));
      ctx_.log(LogLevel::warn, fmt::format("rescuing job {} ({}, attempt {}): {}", job.id, job.kind,
                                           job.attempt, candidate.reason));
    }
    ctx_.store.rescue(tx.connection(), rescues, ctx_.now());
    tx.commit();
    total += static_cast<std::int64_t>(rescues.size());
    if (static_cast<int>(stuck.size()) < kBatch) break;
  }
  return total;
}

std::int64_t Maintainer::run_cleaner() {
  std::int64_t total = 0;
  const auto deadline = Clock::now() + kCleanerBudget;
  while (Clock::now() < deadline) {
    auto conn = ctx_.pool->acquire();
    auto deleted =
        ctx_.store.clean(*conn, ctx_.config.completed_job_retention.count(),
                         ctx_.config.cancelled_job_retention.count(),
                         ctx_.config.discarded_job_retention.count(), kBatch, ctx_.now());
    total += deleted;
    if (deleted < kBatch) break;
  }
  {
    auto conn = ctx_.pool->acquire();
    ctx_.store.prune_clients(
        *conn, std::chrono::duration_cast<std::chrono::milliseconds>(kPruneClientsAfter).count(),
        ctx_.now());
  }
  if (total > 0) ctx_.log(LogLevel::info, fmt::format("cleaner deleted {} finished jobs", total));
  return total;
}

std::int64_t Maintainer::run_periodic() {
  if (!periodic_ensured_) {
    // Record every schedule this client knows (a no-op for those already recorded).
    auto conn = ctx_.pool->acquire();
    for (const auto& periodic : ctx_.config.periodic_jobs) {
      ctx_.store.ensure_periodic(*conn, periodic.name, periodic.interval.count(),
                                 periodic.run_on_start, ctx_.now());
    }
    periodic_ensured_ = true;
  }
  std::int64_t inserted = 0;
  for (const auto& periodic : ctx_.config.periodic_jobs) {
    try {
      auto tx = ctx_.pool->begin();
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
               fmt::format("periodic job {} failed (will retry): {}", periodic.name, e.what()));
    }
  }
  return inserted;
}

namespace {

struct Task {
  const char* name;
  std::chrono::milliseconds interval;
  std::function<void()> run;
  Clock::time_point due;
  LoopBackoff backoff;
};

// Runs the tasks that are due; a failing task logs, backs off, and is retried.
void run_due(std::vector<Task>& tasks, const std::stop_token& stop, const EngineContext& ctx) {
  for (auto& task : tasks) {
    if (stop.stop_requested()) return;
    if (task.due > Clock::now()) continue;
    try {
      task.run();
      task.backoff.succeeded();
      task.due = Clock::now() + task.interval;
    } catch (const std::exception& e) {
      auto pause = std::min(task.backoff.failed(), task.interval);
      task.due = Clock::now() + pause;
      ctx.log(LogLevel::warn,
              fmt::format("{} failed (retrying in {} ms): {}", task.name, pause.count(), e.what()));
    }
  }
}

Clock::time_point next_due(const std::vector<Task>& tasks) {
  auto next = Clock::now() + std::chrono::seconds(1);
  for (const auto& task : tasks)
    next = std::min(next, task.due);
  return next;
}

}  // namespace

void Maintainer::pulse(std::stop_token stop) {
  std::vector<Task> tasks;
  tasks.push_back({"heartbeat",
                   ctx_.config.heartbeat_interval,
                   [this] { heartbeat(); },
                   Clock::now() + ctx_.config.heartbeat_interval,
                   {}});
  tasks.push_back({"leader election",
                   ctx_.config.leader_renew_interval,
                   [this] { elect(); },
                   Clock::now(),
                   {}});
  while (!stop.stop_requested()) {
    {
      std::lock_guard lock(mutex_);
      if (election_requested_) {
        election_requested_ = false;
        tasks[1].due = Clock::now();
      }
    }
    run_due(tasks, stop, ctx_);
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, stop, next_due(tasks), [&] { return election_requested_; });
  }
}

void Maintainer::services(std::stop_token stop) {
  const auto periodic_check = std::min(ctx_.config.poll_interval, std::chrono::milliseconds(1000));
  std::vector<Task> tasks;
  tasks.push_back(
      {"scheduler", ctx_.config.scheduler_interval, [this] { run_scheduler(); }, Clock::now(), {}});
  tasks.push_back(
      {"rescuer", ctx_.config.rescuer_interval, [this] { run_rescuer(); }, Clock::now(), {}});
  tasks.push_back(
      {"cleaner", ctx_.config.job_cleaner_interval, [this] { run_cleaner(); }, Clock::now(), {}});
  if (!ctx_.config.periodic_jobs.empty()) {
    tasks.push_back(
        {"periodic jobs", periodic_check, [this] { run_periodic(); }, Clock::now(), {}});
  }
  bool was_leader = false;
  while (!stop.stop_requested()) {
    const bool leader = is_leader();
    if (leader && !was_leader) {
      for (auto& task : tasks)
        task.due = Clock::now();  // a new leader catches up at once
    }
    was_leader = leader;
    if (leader) run_due(tasks, stop, ctx_);
    auto next = leader ? next_due(tasks) : Clock::now() + ctx_.config.leader_renew_interval;
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, stop, next, [&] { return !was_leader && is_leader(); });
  }
}

}  // namespace delta::jobs
