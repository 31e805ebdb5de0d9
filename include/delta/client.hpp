// delta::Client — one process's connection to delta.
//
// A Client runs the work this process is configured for (job queues now; controllers as
// the resource engine lands) against a database shared with any number of other
// processes, and takes part in electing the leader that runs maintenance.
//
//   delta::Config config;
//   config.workers.add(std::make_shared<SendEmailWorker>());
//   config.queues["default"] = {.max_workers = 20};
//   delta::Client client(pool, config);   // validates config, throws ConfigError
//   client.start();                        // refuses an unmigrated schema (SchemaError)
//   client.jobs().insert(SendEmail{"a@b.c"});
//   client.stop(std::chrono::seconds(10)); // also done by the destructor
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <delta/jobs.hpp>
#include <delta/log.hpp>
#include <delta/pg.hpp>
#include <delta/time.hpp>

namespace delta {

using std::chrono::milliseconds;

struct Config {
  // ---- general ----
  // PostgreSQL schema holding delta's tables (see delta::migrate).
  std::string schema = "delta";
  // This client's id in the database (heartbeats, leases); default "<host>-<pid>-<random>".
  std::string id{};
  // Where delta's messages go; default: info and above to stderr.
  Logger logger{};
  // Fallback poll for new work when no notification arrives (default 1 s).
  milliseconds poll_interval{1000};

  // ---- job queue ----
  jobs::Workers workers{};
  // Queues this client works, with their limits. Empty: an insert-only client.
  std::map<std::string, jobs::QueueConfig> queues{};
  std::vector<jobs::PeriodicJob> periodic_jobs{};
  // How long a job may run unless its worker says otherwise (default 1 min; negative =
  // no timeout).
  milliseconds job_timeout{std::chrono::minutes(1)};
  // Retry delay after a failed attempt; default jobs::exponential_backoff().
  std::shared_ptr<jobs::RetryPolicy> retry_policy{};
  // Finished jobs older than these are deleted by the leader's cleaner.
  milliseconds completed_job_retention{std::chrono::hours(24)};
  milliseconds cancelled_job_retention{std::chrono::hours(24)};
  milliseconds discarded_job_retention{std::chrono::hours(24 * 7)};
  // Outcomes are written in batches: at most this many per statement (default 500)...
  int completer_batch_size = 500;
  // ...and no later than this after the first one is ready (default 2 ms).
  milliseconds completer_flush_interval{2};
  // At most one wake-up notification per queue per this interval from one process's
  // inserts (default 10 ms); a trailing notification follows a suppressed one.
  milliseconds notify_rate_limit{10};

  // ---- processes and leadership ----
  // How often this client records that it is alive (default 5 s).
  milliseconds heartbeat_interval{5000};
  // A client whose last heartbeat is older than this is presumed dead; its running jobs
  // are rescued (default 15 s).
  milliseconds client_ttl{15000};
  // The leader's lease (default 15 s), renewed every leader_renew_interval (default 5 s).
  milliseconds leader_ttl{15000};
  milliseconds leader_renew_interval{5000};
  // How often the leader makes due scheduled/retryable jobs available (default 1 s).
  milliseconds scheduler_interval{1000};
  // How often the leader looks for jobs to rescue (default 5 s); a job still running
  // rescue_margin (default 1 min) after its timeout is rescued even if its client is alive.
  milliseconds rescuer_interval{5000};
  milliseconds rescue_margin{std::chrono::minutes(1)};
  // How often the leader deletes finished jobs past retention (default 1 min).
  milliseconds job_cleaner_interval{std::chrono::minutes(1)};

  // ---- testing ----
  // The clock used for scheduling decisions. Empty (the default) uses the database's
  // now(), which keeps every process on one clock. Tests inject a fake clock here.
  std::function<Timestamp()> clock{};
};

class Client {
 public:
  // Validates `config` (every problem reported at once in a ConfigError). Does not touch
  // the database. The config is copied; the caller's is never changed.
  Client(std::shared_ptr<pg::Pool> pool, Config config);
  // Stops (with a grace of 10 s) if running.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Checks the schema version (SchemaError if unmigrated or too new), registers this
  // client, and starts its background threads. Throws if already started.
  void start();
  // Stops fetching work, waits up to `grace` for running work, then asks it to stop;
  // work still running is released for another process. Idempotent; blocks until the
  // background threads have ended.
  void stop(milliseconds grace = std::chrono::seconds(10));

  jobs::Jobs& jobs();
  const std::string& id() const noexcept;
  const Config& config() const noexcept;
  pg::Pool& pool() const noexcept;
  // Whether this client currently holds the leadership.
  bool is_leader() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delta
