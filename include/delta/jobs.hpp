// delta::jobs — a PostgreSQL job queue.
//
// Jobs are rows in delta's `delta_job` table. Any number of processes insert and work
// them; a job is worked by one process at a time, retried with backoff when it fails,
// and survives crashes (a job whose process died is rescued and run again).
//
//   struct SendEmail {
//     std::string to;
//     static constexpr std::string_view kind = "send_email";
//   };
//   NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SendEmail, to)
//
//   class SendEmailWorker : public delta::jobs::Worker<SendEmail> {
//     delta::jobs::JobResult work(delta::jobs::JobContext& ctx,
//                                 const delta::jobs::Job<SendEmail>& job) override {
//       mailer.send(job.args.to);              // throw, or return retry(...), to try again
//       return delta::jobs::complete();
//     }
//   };
//
//   config.workers.add(std::make_shared<SendEmailWorker>());
//   config.queues["default"] = {.max_workers = 20};
//   delta::Client client(pool, config);
//   client.start();
//   client.jobs().insert(SendEmail{"a@b.c"}, {.priority = 1, .unique = {.by_args = true}});
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <delta/attempt.hpp>
#include <delta/errors.hpp>
#include <delta/events.hpp>
#include <delta/export.hpp>
#include <delta/log.hpp>
#include <delta/pg.hpp>
#include <delta/rate_limit.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {
class Client;
}

namespace delta::jobs {

class DELTA_INTERNAL JobsEngine;

// The arguments of a job: a struct with a `kind` and JSON conversion (nlohmann
// to_json/from_json, e.g. NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE). Kinds match
// ^[a-z0-9]+([_-][a-z0-9]+)*$ and are at most 64 characters.
template <class T>
concept JobArgs = requires {
  { T::kind } -> std::convertible_to<std::string_view>;
}
&&requires(const T& args, const nlohmann::json& json) {
  nlohmann::json(args);
  json.get<T>();
};

enum class JobState { available, scheduled, running, retryable, completed, cancelled, discarded };
std::string_view to_string(JobState state) noexcept;
// Throws ValidationError for an unknown name.
JobState job_state_from_string(std::string_view name);

// One failed attempt, as stored on the job (the last 20 are kept).
using AttemptError = delta::AttemptError;

// A job as stored.
struct JobRow {
  std::int64_t id = 0;
  std::string kind;
  std::string queue;
  JobState state = JobState::available;
  int priority = 1;
  nlohmann::json args;
  nlohmann::json metadata;
  std::vector<std::string> tags;
  int attempt = 0;
  int max_attempts = 25;
  std::optional<Timestamp> attempted_at;
  std::optional<std::string> attempted_by;  // id of the client running (or that last ran) it
  Timestamp created_at;
  Timestamp scheduled_at;
  std::optional<Timestamp> finalized_at;
  std::vector<AttemptError> errors;
};

template <JobArgs T>
struct Job {
  T args;
  JobRow row;
};

// Uniqueness: at most one job with the same key exists in the chosen states. The key is
// the kind plus whichever of args, queue and period are selected. Enforced by a unique
// index, so it holds for concurrent inserts from any number of processes.
struct UniqueOpts {
  bool by_args = false;               // same args (canonical JSON)
  bool by_queue = false;              // same queue
  std::chrono::seconds by_period{0};  // same period: scheduled_at rounded down to it
  // States in which an existing job blocks a new one. Empty means every state but
  // cancelled and discarded. When set it must include available, scheduled, running and
  // retryable (jobs move between those on their own).
  std::vector<JobState> by_state{};

  // Any option set makes the insert unique.
  bool enabled() const noexcept {
    return by_args || by_queue || by_period.count() > 0 || !by_state.empty();
  }
};

struct InsertOpts {
  std::string queue = "default";            // ^[a-z0-9]+([_-][a-z0-9]+)*$, at most 64 chars
  int priority = 1;                         // 1 (highest) .. 4
  std::optional<Timestamp> scheduled_at{};  // unset or in the past: available at once
  int max_attempts = 25;                    // 1 .. 32767
  std::vector<std::string> tags{};          // each ^\w[\w-]+\w$, at most 255 chars
  nlohmann::json metadata = nlohmann::json::object();  // must be a JSON object
  UniqueOpts unique{};
};

// A job to insert, with its kind and arguments already in JSON (see make_insert).
struct JobInsert {
  std::string kind{};
  nlohmann::json args{};
  InsertOpts opts{};
};

template <JobArgs T>
JobInsert make_insert(const T& args, InsertOpts opts = {}) {
  return JobInsert{std::string(T::kind), nlohmann::json(args), std::move(opts)};
}

struct InsertResult {
  JobRow job;  // the inserted job, or the existing one that made this a duplicate
  bool unique_skipped_as_duplicate = false;
};

// What a worker decided.
namespace detail {
enum class JobOutcome { complete, retry, cancel, snooze };
}

class JobResult : public delta::detail::Decision<detail::JobOutcome> {
 public:
  // outcome(); message(): retry: the error recorded; cancel: the reason.
  // snooze: how long until the job runs again.
  std::chrono::milliseconds snooze_for() const noexcept { return duration(); }

 private:
  friend JobResult complete();
  friend JobResult retry(std::string message);
  friend JobResult cancel(std::string reason);
  friend JobResult snooze(std::chrono::milliseconds duration);
  using Decision::Decision;
};

// The job is done.
JobResult complete();
// The attempt failed; try again after the retry policy's delay, or discard the job once
// max_attempts is used up. The message is recorded.
JobResult retry(std::string message);
// Stop: no more attempts. The reason is recorded.
JobResult cancel(std::string reason);
// Run again after `duration` without using up an attempt.
JobResult snooze(std::chrono::milliseconds duration);

// Handed to a worker for one attempt: its stop token (set when the job's timeout passes,
// an operator cancels it, or the client stops: return promptly), its deadline, a logger
// and the client.
class JobContext : public delta::detail::RunContext {
 public:
  using RunContext::RunContext;
};

// Use the client's job_timeout.
inline constexpr std::chrono::milliseconds kDefaultTimeout{0};

// The type-erased face of a worker; implement Worker<T> instead.
class WorkerBase {
 public:
  virtual ~WorkerBase() = default;
  virtual std::string_view kind() const noexcept = 0;
  // How long one attempt may run: kDefaultTimeout uses Config::job_timeout; a negative
  // value means no timeout.
  virtual std::chrono::milliseconds timeout() const { return kDefaultTimeout; }
  // Delay before the next attempt after a failure; nullopt uses the client's policy.
  virtual std::optional<std::chrono::milliseconds> next_retry(const JobRow& /*job*/) const {
    return std::nullopt;
  }
  // Decodes the args and runs the worker. Exceptions are failed attempts.
  virtual JobResult run(JobContext& ctx, const JobRow& row) = 0;
};

// Implement work() for one kind of job. A worker object is shared by every thread
// working that kind, so work() must be thread-safe.
template <JobArgs T>
class Worker : public WorkerBase {
 public:
  // Returns the outcome; an exception is a failed attempt whose type and message are
  // recorded, and the job is retried like retry(message).
  virtual JobResult work(JobContext& ctx, const Job<T>& job) = 0;

  std::string_view kind() const noexcept final { return T::kind; }
  JobResult run(JobContext& ctx, const JobRow& row) final {
    Job<T> job{row.args.template get<T>(), row};
    return work(ctx, job);
  }
};

// The workers a client runs, one per kind.
class Workers {
 public:
  // Registers `worker`. Throws ConfigError for a null worker, an invalid kind, or a kind
  // already registered.
  Workers& add(std::shared_ptr<WorkerBase> worker);
  // The worker for `kind`, or nullptr.
  const std::shared_ptr<WorkerBase>* find(std::string_view kind) const;
  std::vector<std::string> kinds() const;
  bool empty() const noexcept { return workers_.empty(); }

 private:
  std::vector<std::shared_ptr<WorkerBase>> workers_;
};

struct QueueConfig {
  // Jobs of this queue this client runs at once (1 .. 10,000).
  int max_workers = 10;
  // Flow control across every process (docs/flow-control.md): at most this many jobs of
  // the queue running at once in all processes together (1 .. 1,000,000), and at most
  // rate_limit->count job starts per rate_limit->per. Unset: no limit. Defaults: the value
  // in force lives in the database (`delta queues limit`).
  std::optional<int> global_max_workers{};
  std::optional<RateLimit> rate_limit{};
};

// Decides how long to wait before retrying a failed job.
class RetryPolicy {
 public:
  virtual ~RetryPolicy() = default;
  // `job.attempt` is the attempt that just failed (1 for the first).
  virtual std::chrono::milliseconds next_retry(const JobRow& job) = 0;
};

// attempt^4 seconds, ±10% jitter (1 s, 16 s, 81 s, 4.3 min, 10.4 min, ... ~4.5 days at
// attempt 25), capped at `max_delay`. `jitter` returns a value in [-1, 1]; the default
// draws uniformly at random.
std::shared_ptr<RetryPolicy> exponential_backoff(
    std::chrono::milliseconds max_delay = std::chrono::hours(24 * 7),
    std::function<double()> jitter = {});

struct PeriodicOpts {
  // Insert one as soon as the schedule is first seen (not again on restarts).
  bool run_on_start = false;
  // Identifies the schedule in the database; default "<kind>@<interval ms>".
  std::string name{};
  InsertOpts insert{};
};

// A job inserted once per interval across every process sharing the database.
struct PeriodicJob {
  std::string name;
  std::chrono::milliseconds interval{0};
  bool run_on_start = false;
  std::function<JobInsert()> make;
};

template <JobArgs T, class Make>
requires std::is_invocable_r_v<T, Make> PeriodicJob every(std::chrono::milliseconds interval,
                                                          Make make, PeriodicOpts opts = {}) {
  PeriodicJob job;
  job.name =
      opts.name.empty() ? std::string(T::kind) + "@" + std::to_string(interval.count()) : opts.name;
  job.interval = interval;
  job.run_on_start = opts.run_on_start;
  job.make = [make = std::move(make), insert = std::move(opts.insert)] {
    return make_insert<T>(make(), insert);
  };
  return job;
}

// Deduces T from the callable: every(5min, [] { return SendEmail{...}; }).
template <class Make>
requires JobArgs<std::invoke_result_t<Make>> PeriodicJob every(std::chrono::milliseconds interval,
                                                               Make make, PeriodicOpts opts = {}) {
  return every<std::invoke_result_t<Make>, Make>(interval, std::move(make), std::move(opts));
}

enum class JobEventKind { completed, failed, cancelled, discarded, snoozed };
std::string_view to_string(JobEventKind kind) noexcept;

struct JobEvent {
  JobEventKind kind;
  JobRow job;         // the job as it was worked (state before the outcome)
  std::string error;  // for failed / discarded / cancelled
};

// client.jobs(): insert, inspect and manage jobs. Thread-safe.
class Jobs {
 public:
  explicit Jobs(JobsEngine* engine) : engine_(engine) {}

  // Inserts one job in its own transaction. Throws ValidationError (nothing written) or
  // DatabaseError.
  template <JobArgs T>
  InsertResult insert(const T& args, const InsertOpts& opts = {}) {
    return insert(make_insert(args, opts));
  }
  InsertResult insert(const JobInsert& job);

  // Inserts in the caller's transaction: the job exists if and only if `tx` commits;
  // workers are woken at commit.
  template <JobArgs T>
  InsertResult insert_tx(pg::Transaction& tx, const T& args, const InsertOpts& opts = {}) {
    return insert_tx(tx, make_insert(args, opts));
  }
  InsertResult insert_tx(pg::Transaction& tx, const JobInsert& job);

  // Inserts many jobs in one transaction (statements of up to 5,000 jobs, pipelined);
  // results are in input order. Every job is validated before anything is written.
  template <JobArgs T>
  std::vector<InsertResult> insert_many(std::span<const T> args, const InsertOpts& opts = {}) {
    std::vector<JobInsert> jobs;
    jobs.reserve(args.size());
    for (const auto& a : args)
      jobs.push_back(make_insert(a, opts));
    return insert_many(std::span<const JobInsert>(jobs));
  }
  std::vector<InsertResult> insert_many(std::span<const JobInsert> jobs);
  std::vector<InsertResult> insert_many_tx(pg::Transaction& tx, std::span<const JobInsert> jobs);

  // The job with `id`; throws NotFound.
  JobRow get(std::int64_t id);
  // Cancels a job that has not finished: waiting jobs become cancelled at once; a running
  // job has its stop token signalled (in whichever process runs it) and ends cancelled
  // unless it completes anyway. Returns the job; throws NotFound.
  JobRow cancel(std::int64_t id);
  // Makes a finished or waiting job available now (attempts used so far are kept; if
  // they are exhausted, max_attempts grows by one). A running job is left alone.
  JobRow retry(std::int64_t id);
  // Paused queues are not fetched from by any process (within a poll interval).
  void pause_queue(std::string_view queue);
  void resume_queue(std::string_view queue);

  // Events of the given kinds (all when empty) for jobs this client works.
  Subscription<JobEvent> subscribe(std::vector<JobEventKind> kinds = {},
                                   std::size_t capacity = 1024);

 private:
  JobsEngine* engine_;
};

}  // namespace delta::jobs

DELTA_PUBLIC_END
