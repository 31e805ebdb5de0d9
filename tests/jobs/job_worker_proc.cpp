// job_worker_proc: one job-queue worker process for jobs_process_pgtest (not a test).
//
// It starts a delta::Client with short intervals on the schema it is given, works the
// kinds "proc_job" and "tick" on the "default" queue, records every execution in
// <schema>.proc_execution (created by the test), prints "ready" on stdout once started
// and runs until SIGTERM or SIGINT (then client.stop()). SIGKILL is the crash case.
// Each job takes --sleep-us (or --sleep-ms); one interrupted by its stop token (a timeout,
// a stop, the fence) returns retry and is not recorded in proc_execution. With
// --attempt-log, every attempt is also written to that file (support/intervals.hpp, kind
// and job id, generation 1): a line as it starts and one as it ends, finished or
// interrupted, so that an attempt of a SIGKILLed process shows as started and never ended.
// --global-max-workers and --rate-count / --rate-per-ms are the queue's default flow
// limits (docs/flow-control.md), registered by the first process.
//
//   job_worker_proc --schema t_1_1 --client-id a --max-workers 10 --hang-job-id 42
//       --sleep-us 500 --attempt-log a.log
//   job_worker_proc --schema t_1_1 --client-id a --max-workers 8 --global-max-workers 5
//       --rate-count 50 --rate-per-ms 1000 --sleep-ms 80 --attempt-log a.log
//
// Lines it prints on stdout (each flushed at once), besides those of support/worker_proc:
//   hanging <job id>      the job named by --hang-job-id is running and will not return
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <delta/client.hpp>
#include <delta/errors.hpp>
#include <delta/jobs.hpp>
#include <delta/pg.hpp>
#include <delta/rate_limit.hpp>

#include "support/intervals.hpp"
#include "support/pg_test.hpp"
#include "support/worker_kinds.hpp"
#include "support/worker_proc.hpp"

namespace {

using delta::testing::print_line;
using delta::testing::ProcJob;
using std::chrono::milliseconds;

// The periodic job.
struct Tick {
  static constexpr std::string_view kind = "tick";
};
void to_json(nlohmann::json& json, const Tick& /*tick*/) {
  json = nlohmann::json::object();
}
void from_json(const nlohmann::json& /*json*/, Tick& /*tick*/) {}

struct Settings : delta::testing::WorkerOptions {
  Settings() { log_level = "info"; }
  int max_workers = 10;
  int sleep_ms = 0;
  int sleep_us = 0;  // added to sleep_ms
  std::string attempt_log_path;
  std::int64_t hang_job_id = 0;
  int periodic_ms = 0;
  bool run_on_start = false;
  int job_timeout_ms = 60000;
  int rescue_margin_ms = 60000;
  int client_ttl_ms = 1500;
  int poll_ms = 100;
  int global_max_workers = 0;  // the queue's default global_max_workers; 0: none
  int rate_count = 0;          // the queue's default rate limit, with rate_per_ms; 0: none
  int rate_per_ms = 1000;
};

// Runs a job and records the execution. The record carries a token unique to this
// execution, so retrying the INSERT after a lost connection (its commit may or may not
// have happened) never records one execution twice, while two executions of one job
// always leave two rows.
class RecordingWorker {
 public:
  RecordingWorker(std::shared_ptr<delta::pg::Pool> pool, Settings settings)
      : pool_(std::move(pool)), settings_(std::move(settings)) {
    if (!settings_.attempt_log_path.empty()) {
      attempt_log_ = std::make_unique<delta::testing::WorkLog>(settings_.attempt_log_path);
    }
  }

  delta::jobs::JobResult run(delta::jobs::JobContext& ctx, const delta::jobs::JobRow& row) {
    // The attempt's start, and its end however it ends (an exception too).
    const delta::testing::LoggedWork logged(attempt_log_.get(), row.kind, std::to_string(row.id), 1,
                                            row.attempt);
    const auto started_at = delta::now();
    if (settings_.hang_job_id != 0 && row.id == settings_.hang_job_id) {
      print_line(fmt::format("hanging {}", row.id));
      while (!ctx.stop_requested()) {
        std::this_thread::sleep_for(milliseconds(10));
      }
      return delta::jobs::retry("interrupted while hanging");
    }
    const auto sleep =
        milliseconds(settings_.sleep_ms) + std::chrono::microseconds(settings_.sleep_us);
    if (sleep.count() > 0 && !delta::testing::sleep_unless_stopped(ctx, sleep)) {
      return delta::jobs::retry("interrupted while sleeping");
    }
    record(row, started_at);
    return delta::jobs::complete();
  }

 private:
  void record(const delta::jobs::JobRow& row, delta::Timestamp started_at) {
    const std::string token =
        fmt::format("{}-{}-{}", settings_.client_id, ::getpid(), ++executions_);
    const std::string sql = fmt::format(
        "INSERT INTO \"{}\".proc_execution (token, job_id, kind, attempt, client_id, pid, "
        "started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (token) DO NOTHING",
        settings_.schema);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      try {
        pool_->exec(sql, token, row.id, row.kind, std::int32_t{row.attempt}, settings_.client_id,
                    std::int32_t{::getpid()}, started_at, delta::now());
        return;
      } catch (const delta::DatabaseError& e) {
        // Connections die under the pg_terminate_backend test: try again on a new one.
        if (!e.retryable()) throw;
        if (std::chrono::steady_clock::now() > give_up) throw;
        std::this_thread::sleep_for(milliseconds(20));
      }
    }
  }

  std::shared_ptr<delta::pg::Pool> pool_;
  const Settings settings_;
  std::unique_ptr<delta::testing::WorkLog> attempt_log_;  // null: no --attempt-log
  std::atomic<std::int64_t> executions_{0};
};

// The worker of one kind: hands every job to the shared RecordingWorker.
template <class T>
class RecordedWorker : public delta::jobs::Worker<T> {
 public:
  explicit RecordedWorker(std::shared_ptr<RecordingWorker> recorder)
      : recorder_(std::move(recorder)) {}
  delta::jobs::JobResult work(delta::jobs::JobContext& ctx,
                              const delta::jobs::Job<T>& job) override {
    return recorder_->run(ctx, job.row);
  }

 private:
  std::shared_ptr<RecordingWorker> recorder_;
};

int run(const Settings& settings) {
  delta::pg::PoolOptions pool_options;
  pool_options.max_connections = static_cast<std::size_t>(settings.max_workers) + 8;
  // The test finds this process's connections (pg_terminate_backend) by this name.
  pool_options.application_name = "djw_" + settings.schema;
  auto pool = delta::testing::make_pool(pool_options);

  auto recorder = std::make_shared<RecordingWorker>(pool, settings);
  delta::Config config = delta::testing::worker_config(settings);
  config.poll_interval = milliseconds(settings.poll_ms);
  config.heartbeat_interval = milliseconds(200);
  config.client_ttl = milliseconds(settings.client_ttl_ms);
  config.leader_ttl = milliseconds(1500);
  config.leader_renew_interval = milliseconds(300);
  config.scheduler_interval = milliseconds(200);
  config.rescuer_interval = milliseconds(200);
  config.job_timeout = milliseconds(settings.job_timeout_ms);
  config.rescue_margin = milliseconds(settings.rescue_margin_ms);
  config.queues["default"] = {.max_workers = settings.max_workers};
  if (settings.global_max_workers > 0)
    config.queues["default"].global_max_workers = settings.global_max_workers;
  if (settings.rate_count > 0) {
    config.queues["default"].rate_limit =
        delta::RateLimit{settings.rate_count, milliseconds(settings.rate_per_ms)};
  }
  config.workers.add(std::make_shared<RecordedWorker<ProcJob>>(recorder));
  config.workers.add(std::make_shared<RecordedWorker<Tick>>(recorder));
  if (settings.periodic_ms > 0) {
    delta::jobs::PeriodicOpts periodic;
    periodic.run_on_start = settings.run_on_start;
    config.periodic_jobs.push_back(delta::jobs::every(
        milliseconds(settings.periodic_ms), [] { return Tick{}; }, periodic));
  }

  return delta::testing::serve(pool, config, settings);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  CLI::App app("A delta job-queue worker process for jobs_process_pgtest.");
  app.add_option("--max-workers", settings.max_workers, "workers of the default queue");
  app.add_option("--sleep-ms", settings.sleep_ms, "time each job takes");
  app.add_option("--sleep-us", settings.sleep_us, "time each job takes, in microseconds");
  app.add_option("--attempt-log", settings.attempt_log_path,
                 "file receiving a line as each attempt starts and one as it ends");
  app.add_option("--hang-job-id", settings.hang_job_id, "a job this process never finishes");
  app.add_option("--periodic-ms", settings.periodic_ms, "run a periodic 'tick' job (0: none)");
  app.add_flag("--run-on-start", settings.run_on_start, "the periodic job runs on start");
  app.add_option("--job-timeout-ms", settings.job_timeout_ms, "Config::job_timeout");
  app.add_option("--rescue-margin-ms", settings.rescue_margin_ms, "Config::rescue_margin");
  app.add_option("--client-ttl-ms", settings.client_ttl_ms, "Config::client_ttl");
  app.add_option("--poll-ms", settings.poll_ms, "Config::poll_interval");
  app.add_option("--global-max-workers", settings.global_max_workers,
                 "the default queue's default global_max_workers (0: none)");
  app.add_option("--rate-count", settings.rate_count,
                 "the default queue's default rate limit: starts per --rate-per-ms (0: none)");
  app.add_option("--rate-per-ms", settings.rate_per_ms, "the rate limit's interval");
  return delta::testing::worker_main(argc, argv, "job_worker_proc", app, settings,
                                     [&] { return run(settings); });
}
