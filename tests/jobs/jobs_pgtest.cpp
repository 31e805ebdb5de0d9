// The job queue against a live PostgreSQL: every job state transition, uniqueness,
// transactional inserts, events, stopping, leadership and the leader's maintenance
// services, and recovery from killed connections.
//
// Every test works in its own schema (unique_schema()) and drops it at the end, so the
// tests can run in parallel against one database. Clients use short intervals (polling and
// scheduling every 50 ms) and tests wait on conditions, never on fixed sleeps; a test
// that must show something does *not* happen watches it for a short window after a
// positive signal proved the machinery ran. Tests that check times exactly inject a
// FakeClock through Config::clock.
//
// Suites are named after the executable so `ctest -R jobs_pgtest` selects them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/client.hpp>
#include <delta/errors.hpp>
#include <delta/jobs.hpp>
#include <delta/log.hpp>
#include <delta/migrate.hpp>
#include <delta/pg.hpp>
#include <delta/time.hpp>

#include "jobs/store.hpp"
#include "support/gate.hpp"
#include "support/pg_test.hpp"
#include "support/printers.hpp"

// Named (not anonymous) so the recorded, demangled type name is predictable.
namespace jobs_pgtest_errors {
struct TransientError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace jobs_pgtest_errors

namespace {

using delta::Client;
using delta::Config;
using delta::Timestamp;
using delta::jobs::InsertOpts;
using delta::jobs::Job;
using delta::jobs::JobContext;
using delta::jobs::JobEvent;
using delta::jobs::JobEventKind;
using delta::jobs::JobInsert;
using delta::jobs::JobResult;
using delta::jobs::JobRow;
using delta::jobs::JobState;
using delta::testing::consistently;
using delta::testing::contains;
using delta::testing::eventually;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- job kinds and workers --------------------------------------------------------------

// What the test worker does is chosen per job by `action` (see TaskWorker::work); `n`
// tags the job or parameterises the action.
struct Task {
  std::string action = "complete";
  int n = 0;
  static constexpr std::string_view kind = "task";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Task, action, n)

// Same actions, but its worker has its own timeout.
struct TimedTask {
  std::string action = "complete";
  int n = 0;
  static constexpr std::string_view kind = "timed_task";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TimedTask, action, n)

// Args whose stored JSON a test corrupts.
struct Strict {
  int n = 0;
  static constexpr std::string_view kind = "strict";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Strict, n)

// What the workers saw, shared with the test.
class Recorder {
 public:
  // Returns how many times job `id` has run, this run included.
  int record_run(std::int64_t id, int n) {
    std::lock_guard lock(mutex_);
    order_.push_back(n);
    return ++runs_[id];
  }
  int runs(std::int64_t id) const {
    std::lock_guard lock(mutex_);
    auto found = runs_.find(id);
    return found == runs_.end() ? 0 : found->second;
  }
  int total() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(order_.size());
  }
  std::map<std::int64_t, int> all_runs() const {
    std::lock_guard lock(mutex_);
    return runs_;
  }
  // The `n` of every job run, in the order they started.
  std::vector<int> order() const {
    std::lock_guard lock(mutex_);
    return order_;
  }
  // Concurrency of "sleep" jobs.
  void enter() {
    std::lock_guard lock(mutex_);
    peak_concurrency_ = std::max(peak_concurrency_, ++concurrency_);
  }
  void leave() {
    std::lock_guard lock(mutex_);
    --concurrency_;
  }
  int peak_concurrency() const {
    std::lock_guard lock(mutex_);
    return peak_concurrency_;
  }
  // How many "sleep" and "hold" jobs run now.
  int concurrency() const {
    std::lock_guard lock(mutex_);
    return concurrency_;
  }
  // "hold" jobs wait for this gate (or their stop token); the test opens it.
  delta::testing::Gate& gate() { return gate_; }
  void finished(std::int64_t id) {
    std::lock_guard lock(mutex_);
    finished_.insert(id);
  }
  // Whether a "sleep" job's work() has returned.
  bool has_finished(std::int64_t id) const {
    std::lock_guard lock(mutex_);
    return finished_.contains(id);
  }
  void saw_stop(std::int64_t id, std::chrono::milliseconds after) {
    std::lock_guard lock(mutex_);
    stops_[id] = after;
  }
  // How long after it started job `id` saw its stop token fire.
  std::optional<std::chrono::milliseconds> stop_seen(std::int64_t id) const {
    std::lock_guard lock(mutex_);
    auto found = stops_.find(id);
    if (found == stops_.end()) return std::nullopt;
    return found->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::int64_t, int> runs_;                         // guarded by mutex_
  std::vector<int> order_;                                   // guarded by mutex_
  std::map<std::int64_t, std::chrono::milliseconds> stops_;  // guarded by mutex_
  std::set<std::int64_t> finished_;                          // guarded by mutex_
  int concurrency_ = 0;                                      // guarded by mutex_
  int peak_concurrency_ = 0;                                 // guarded by mutex_
  delta::testing::Gate gate_;
};

// Blocks until the job's stop token fires or `limit` passes; true if it fired.
bool wait_for_stop(const JobContext& ctx, std::chrono::milliseconds limit) {
  std::mutex mutex;
  std::condition_variable_any never;
  std::unique_lock lock(mutex);
  never.wait_for(lock, ctx.stop_token(), limit, [] { return false; });
  return ctx.stop_requested();
}

template <class T>
class TaskWorker : public delta::jobs::Worker<T> {
 public:
  explicit TaskWorker(std::shared_ptr<Recorder> recorder,
                      std::chrono::milliseconds timeout = delta::jobs::kDefaultTimeout,
                      std::optional<std::chrono::milliseconds> retry_delay = std::nullopt)
      : recorder_(std::move(recorder)), timeout_(timeout), retry_delay_(retry_delay) {}

  std::chrono::milliseconds timeout() const override { return timeout_; }
  std::optional<std::chrono::milliseconds> next_retry(const JobRow&) const override {
    return retry_delay_;
  }

  JobResult work(JobContext& ctx, const Job<T>& job) override {
    const auto started = Clock::now();
    const int run = recorder_->record_run(job.row.id, job.args.n);
    const std::string& action = job.args.action;
    if (action == "complete") return delta::jobs::complete();
    if (action == "retry") return delta::jobs::retry("boom");
    if (action == "retry_numbered") {
      return delta::jobs::retry(fmt::format("failure {}", job.row.attempt));
    }
    if (action == "fail_once") {
      return run == 1 ? delta::jobs::retry("first try fails") : delta::jobs::complete();
    }
    if (action == "throw") throw jobs_pgtest_errors::TransientError("disk full");
    if (action == "throw_std") throw std::out_of_range("index 7");
    if (action == "throw_int") throw 42;
    if (action == "throw_latin1") throw std::runtime_error("caf\xe9 au lait");  // not UTF-8
    if (action == "retry_nul") return delta::jobs::retry(std::string("nul\0byte", 8));
    if (action == "cancel") return delta::jobs::cancel("not needed");
    if (action == "snooze_once") {
      return run == 1 ? delta::jobs::snooze(std::chrono::seconds(job.args.n))
                      : delta::jobs::complete();
    }
    if (action == "wait_stop" || (action == "wait_stop_once" && run == 1)) {
      if (wait_for_stop(ctx, 10s)) {
        recorder_->saw_stop(job.row.id, std::chrono::duration_cast<std::chrono::milliseconds>(
                                            Clock::now() - started));
      }
      return delta::jobs::retry("stopped");
    }
    if (action == "wait_stop_once") return delta::jobs::complete();
    if (action == "sleep" || action == "ignore_stop") {
      recorder_->enter();
      std::this_thread::sleep_for(std::chrono::milliseconds(job.args.n));
      recorder_->leave();
      recorder_->finished(job.row.id);
      return delta::jobs::complete();
    }
    if (action == "hold") {
      recorder_->enter();
      recorder_->gate().wait(ctx.stop_token(), true);
      recorder_->leave();
      recorder_->finished(job.row.id);
      return delta::jobs::complete();
    }
    if (action == "follow_up") {
      ctx.client().jobs().insert(Task{"complete", job.args.n});
      return delta::jobs::complete();
    }
    throw std::logic_error("unknown test action " + action);
  }

 private:
  std::shared_ptr<Recorder> recorder_;
  std::chrono::milliseconds timeout_;
  std::optional<std::chrono::milliseconds> retry_delay_;
};

// Completes every job of kind "strict".
class StrictWorker : public delta::jobs::Worker<Strict> {
 public:
  explicit StrictWorker(std::shared_ptr<Recorder> recorder) : recorder_(std::move(recorder)) {}
  JobResult work(JobContext&, const Job<Strict>& job) override {
    recorder_->record_run(job.row.id, job.args.n);
    return delta::jobs::complete();
  }

 private:
  std::shared_ptr<Recorder> recorder_;
};

// Always the same delay, so retries come due at once under a frozen clock.
class FixedDelay : public delta::jobs::RetryPolicy {
 public:
  explicit FixedDelay(std::chrono::milliseconds delay) : delay_(delay) {}
  std::chrono::milliseconds next_retry(const JobRow&) override { return delay_; }

 private:
  std::chrono::milliseconds delay_;
};

// A clock the test moves by hand; starts at a whole second near the real time.
class FakeClock {
 public:
  FakeClock()
      : micros_(std::make_shared<std::atomic<std::int64_t>>(
            std::chrono::floor<std::chrono::seconds>(delta::now()).time_since_epoch() /
            std::chrono::microseconds(1))) {}
  Timestamp now() const { return Timestamp(std::chrono::microseconds(micros_->load())); }
  void set(Timestamp at) { micros_->store(at.time_since_epoch().count()); }
  void advance(std::chrono::microseconds by) { micros_->fetch_add(by.count()); }
  std::function<Timestamp()> function() const {
    return [micros = micros_] { return Timestamp(std::chrono::microseconds(micros->load())); };
  }

 private:
  std::shared_ptr<std::atomic<std::int64_t>> micros_;
};

// ---- fixture ----------------------------------------------------------------------------

class JobsPgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<delta::testing::ScratchSchema>(
        "jobs", delta::testing::SchemaStart::migrated,
        delta::pg::PoolOptions{.max_connections = 20});
    pool_ = scratch_->shared_pool();
    schema_ = scratch_->name();
    recorder_ = std::make_shared<Recorder>();
  }

  void TearDown() override {
    recorder_->gate().open();
    for (auto& client : clients_)
      client->stop(200ms);
    clients_.clear();
    pool_.reset();
    scratch_.reset();
  }

  // Short intervals; the rescuer and cleaner run once at start and then only in the tests
  // that shorten their intervals (so moving a FakeClock never rescues a running job).
  Config base_config() {
    Config cfg;
    cfg.schema = schema_;
    cfg.logger = delta::stderr_logger(delta::LogLevel::warn);
    cfg.poll_interval = 50ms;
    cfg.scheduler_interval = 50ms;
    cfg.heartbeat_interval = 200ms;
    cfg.client_ttl = 2s;
    cfg.leader_ttl = 2s;
    cfg.leader_renew_interval = 200ms;
    cfg.rescuer_interval = 1h;
    cfg.job_cleaner_interval = 1h;
    cfg.retry_policy =
        delta::jobs::exponential_backoff(std::chrono::hours(24 * 7), [] { return 0.0; });
    cfg.workers.add(std::make_shared<TaskWorker<Task>>(recorder_));
    cfg.queues["default"] = {.max_workers = 4};
    return cfg;
  }
  Config base_config(const FakeClock& clock) {
    Config cfg = base_config();
    cfg.clock = clock.function();
    return cfg;
  }

  // A client that is not started yet (inserts work without start()).
  Client& add_client(Config cfg, std::shared_ptr<delta::pg::Pool> pool = nullptr) {
    clients_.push_back(std::make_unique<Client>(pool ? std::move(pool) : pool_, std::move(cfg)));
    return *clients_.back();
  }
  Client& start(Config cfg, std::shared_ptr<delta::pg::Pool> pool = nullptr) {
    Client& client = add_client(std::move(cfg), std::move(pool));
    client.start();
    return client;
  }

  // Reads jobs without a clock of its own.
  JobRow get(std::int64_t id) {
    if (reader_ == nullptr) reader_ = &add_client(base_config());
    return reader_->jobs().get(id);
  }
  JobState state(std::int64_t id) { return get(id).state; }
  std::function<bool()> in_state(std::int64_t id, JobState wanted) {
    return [this, id, wanted] { return state(id) == wanted; };
  }

  std::string table(std::string_view name = "delta_job") const { return scratch_->table(name); }
  // Starts a client with `max_workers` on the default queue and waits until `count`
  // jobs sleeping `sleep_ms` each, inserted in one batch, have completed.
  void run_sleeping_batch(int max_workers, int count, int sleep_ms) {
    Config cfg = base_config();
    cfg.queues["default"] = {.max_workers = max_workers};
    Client& client = start(cfg);
    std::vector<JobInsert> batch(static_cast<std::size_t>(count),
                                 delta::jobs::make_insert(Task{"sleep", sleep_ms}));
    client.jobs().insert_many(batch);
    ASSERT_TRUE(eventually([&] { return count_jobs("state = 'completed'") == count; }));
  }

  // Runs a job of `action` (its error message is one jsonb cannot store as it is), then a
  // plain job: the plain one completes, and the first is retryable with one error of
  // `type` whose message contains `part`.
  void expect_unstorable_error_does_not_stall(const std::string& action, const std::string& type,
                                              const std::string& part);

  std::int64_t count_jobs(const std::string& where = "true") {
    return scratch_->count(fmt::format("delta_job WHERE {}", where));
  }

  std::unique_ptr<delta::testing::ScratchSchema> scratch_;
  std::shared_ptr<delta::pg::Pool> pool_;
  std::string schema_;
  std::shared_ptr<Recorder> recorder_;
  std::vector<std::unique_ptr<Client>> clients_;
  Client* reader_ = nullptr;
};

using jobs_pgtest = JobsPgTest;

// ---- inserting --------------------------------------------------------------------------

TEST_F(jobs_pgtest, InsertStoresAnAvailableJob) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = add_client(base_config(clock));

  auto result = client.jobs().insert(Task{"complete", 1}, {.queue = "mail",
                                                           .priority = 3,
                                                           .max_attempts = 7,
                                                           .tags = {"tag-one", "tag_two"},
                                                           .metadata = {{"source", "test"}}});
  EXPECT_FALSE(result.unique_skipped_as_duplicate);
  EXPECT_GT(result.job.id, 0);
  EXPECT_EQ(result.job.state, JobState::available);

  const JobRow row = get(result.job.id);
  EXPECT_EQ(row.kind, "task");
  EXPECT_EQ(row.queue, "mail");
  EXPECT_EQ(row.state, JobState::available);
  EXPECT_EQ(row.priority, 3);
  EXPECT_EQ(row.max_attempts, 7);
  EXPECT_EQ(row.args, nlohmann::json(Task{"complete", 1}));
  EXPECT_EQ(row.tags, (std::vector<std::string>{"tag-one", "tag_two"}));
  EXPECT_EQ(row.metadata, (nlohmann::json{{"source", "test"}}));
  EXPECT_EQ(row.attempt, 0);
  EXPECT_EQ(row.created_at, t0);
  EXPECT_EQ(row.scheduled_at, t0);
  EXPECT_FALSE(row.attempted_at.has_value());
  EXPECT_FALSE(row.attempted_by.has_value());
  EXPECT_FALSE(row.finalized_at.has_value());
  EXPECT_TRUE(row.errors.empty());

  // A scheduled_at in the past is available at once and keeps its time.
  auto past = client.jobs().insert(Task{}, {.scheduled_at = t0 - 1h}).job;
  EXPECT_EQ(past.state, JobState::available);
  EXPECT_EQ(get(past.id).scheduled_at, t0 - 1h);
}

TEST_F(jobs_pgtest, InsertManyReturnsEveryJobInInputOrder) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = add_client(base_config(clock));
  // 3 rows take the small prepared statement, 300 the large one; every 7th job of the
  // mixed batch is unique, which takes the statement with ON CONFLICT.
  for (const auto& [count, mixed] :
       std::vector<std::pair<int, bool>>{{3, false}, {300, false}, {300, true}}) {
    std::vector<JobInsert> batch;
    for (int n = 0; n < count; ++n) {
      // JSON travels as text inside an array literal: quotes, backslashes, braces and
      // non-ASCII text must survive both levels of escaping.
      InsertOpts opts{.queue = n % 2 ? "alpha" : "beta",
                      .priority = 1 + n % 4,
                      .max_attempts = 1 + n % 9,
                      .metadata = {{"n", n}, {"s", "q\"uote \\ {a,b} \u00e9 NULL"}}};
      if (n % 3 == 1) opts.tags = {"tag-" + std::to_string(n), "second_tag"};
      if (n % 5 == 2) opts.scheduled_at = t0 + std::chrono::seconds(n);
      if (mixed && n % 7 == 0) opts.unique = {.by_args = true};
      batch.push_back(delta::jobs::make_insert(Task{"complete", 1000 * count + n}, opts));
    }
    auto results = client.jobs().insert_many(batch);
    ASSERT_EQ(results.size(), batch.size());
    std::set<std::int64_t> ids;
    for (int n = 0; n < count; ++n) {
      const JobInsert& sent = batch[n];
      const delta::jobs::InsertResult& got = results[n];
      SCOPED_TRACE(fmt::format("batch of {} (mixed: {}), job {}", count, mixed, n));
      EXPECT_FALSE(got.unique_skipped_as_duplicate);
      ids.insert(got.job.id);
      const JobRow row = get(got.job.id);  // what is stored under the returned id
      EXPECT_EQ(row.args, sent.args);
      EXPECT_EQ(row.queue, sent.opts.queue);
      EXPECT_EQ(row.priority, sent.opts.priority);
      EXPECT_EQ(row.max_attempts, sent.opts.max_attempts);
      EXPECT_EQ(row.metadata, sent.opts.metadata);
      EXPECT_EQ(row.tags, sent.opts.tags);
      const auto state = sent.opts.scheduled_at ? JobState::scheduled : JobState::available;
      EXPECT_EQ(row.state, state);
      EXPECT_EQ(got.job.state, state);
      EXPECT_EQ(row.scheduled_at, sent.opts.scheduled_at.value_or(t0));
      EXPECT_EQ(got.job.scheduled_at, row.scheduled_at);
      EXPECT_EQ(got.job.created_at, t0);
      EXPECT_EQ(got.job.args, sent.args);
      EXPECT_EQ(got.job.tags, sent.opts.tags);
    }
    EXPECT_EQ(ids.size(), batch.size());
  }
}

TEST_F(jobs_pgtest, InsertWithFutureTimeIsScheduled) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = add_client(base_config(clock));
  auto job = client.jobs().insert(Task{}, {.scheduled_at = t0 + 1s}).job;
  EXPECT_EQ(job.state, JobState::scheduled);
  const JobRow row = get(job.id);
  EXPECT_EQ(row.state, JobState::scheduled);
  EXPECT_EQ(row.scheduled_at, t0 + 1s);
}

TEST_F(jobs_pgtest, InsertManyLargerThanOneStatementIsOneTransaction) {
  Client& client = add_client(base_config());
  // More jobs than one statement takes (JobStore::kInsertChunk): several statements.
  const int count = 2 * static_cast<int>(delta::jobs::JobStore::kInsertChunk) + 7;
  std::vector<JobInsert> batch;
  for (int n = 0; n < count; ++n)
    batch.push_back(delta::jobs::make_insert(Task{"complete", n}));

  // A job of the last statement fails in the database: none of the batch may remain.
  pool_->exec(fmt::format(R"(
CREATE FUNCTION "{}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused'; END $$)",
                          schema_));
  pool_->exec(fmt::format(R"(
CREATE TRIGGER refuse BEFORE INSERT ON {} FOR EACH ROW
  WHEN ((NEW.args->>'n')::int = {}) EXECUTE FUNCTION "{}".refuse())",
                          table(), count - 3, schema_));
  EXPECT_THROW(client.jobs().insert_many(batch), delta::DatabaseError);
  EXPECT_EQ(count_jobs(), 0) << "the statements before the failing one were committed";

  pool_->exec(fmt::format("DROP TRIGGER refuse ON {}", table()));
  auto results = client.jobs().insert_many(batch);
  ASSERT_EQ(results.size(), batch.size());
  EXPECT_EQ(count_jobs(), count);
  // Every returned id holds the job at that position.
  std::map<std::int64_t, int> stored;
  for (auto row : pool_->exec(fmt::format("SELECT id, (args->>'n')::int FROM {}", table())))
    stored.emplace(row.get<std::int64_t>(0), row.get<std::int32_t>(1));
  for (int n = 0; n < count; ++n) {
    ASSERT_EQ(stored.at(results[n].job.id), n) << "result " << n;
  }

  // With unique jobs (statements one after another): a duplicate in a later statement
  // of the same call finds the job of an earlier one.
  const InsertOpts unique{.unique = {.by_args = true}};
  std::vector<JobInsert> keyed;
  for (int n = 0; n < static_cast<int>(delta::jobs::JobStore::kInsertChunk) + 2; ++n)
    keyed.push_back(
        delta::jobs::make_insert(Task{"complete", -1 - n}, n == 0 ? unique : InsertOpts{}));
  keyed.push_back(delta::jobs::make_insert(Task{"complete", -1}, unique));
  auto keyed_results = client.jobs().insert_many(keyed);
  ASSERT_EQ(keyed_results.size(), keyed.size());
  EXPECT_FALSE(keyed_results.front().unique_skipped_as_duplicate);
  EXPECT_TRUE(keyed_results.back().unique_skipped_as_duplicate);
  EXPECT_EQ(keyed_results.back().job.id, keyed_results.front().job.id);
  EXPECT_EQ(count_jobs(), count + static_cast<std::int64_t>(keyed.size()) - 1);
}

TEST_F(jobs_pgtest, InsertManyValidatesEveryJobBeforeWriting) {
  Client& client = add_client(base_config());
  std::vector<JobInsert> batch = {delta::jobs::make_insert(Task{}),
                                  delta::jobs::make_insert(Task{}, {.priority = 9})};
  try {
    client.jobs().insert_many(batch);
    ADD_FAILURE() << "a bad priority was accepted";
  } catch (const delta::ValidationError& e) {
    EXPECT_EQ(e.field(), "jobs[1].priority");
  }
  EXPECT_EQ(count_jobs(), 0) << "nothing is written when one job is invalid";

  EXPECT_THROW(client.jobs().insert(Task{}, {.queue = "Not A Queue"}), delta::ValidationError);
  EXPECT_EQ(count_jobs(), 0);
}

TEST_F(jobs_pgtest, MissingJobsThrowNotFound) {
  Client& client = add_client(base_config());
  EXPECT_THROW(client.jobs().get(987654), delta::NotFound);
  EXPECT_THROW(client.jobs().cancel(987654), delta::NotFound);
  EXPECT_THROW(client.jobs().retry(987654), delta::NotFound);
}

// ---- state transitions ------------------------------------------------------------------

TEST_F(jobs_pgtest, ScheduledJobBecomesAvailableWhenDue) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = start(base_config(clock));
  const auto job = client.jobs().insert(Task{"complete", 1}, {.scheduled_at = t0 + 10min}).job;
  // The probe comes due first: once it ran, the scheduler has seen the clock's new time.
  const auto probe = client.jobs().insert(Task{"complete", 2}, {.scheduled_at = t0 + 5min}).job;
  ASSERT_EQ(job.state, JobState::scheduled);
  ASSERT_EQ(probe.state, JobState::scheduled);

  clock.set(t0 + 10min - 1us);
  ASSERT_TRUE(eventually(in_state(probe.id, JobState::completed)));
  EXPECT_EQ(state(job.id), JobState::scheduled) << "not due until t0 + 10 min";
  EXPECT_EQ(recorder_->runs(job.id), 0);

  clock.set(t0 + 10min);
  ASSERT_TRUE(eventually(in_state(job.id, JobState::completed)));
  const JobRow row = get(job.id);
  EXPECT_EQ(row.attempt, 1);
  EXPECT_EQ(row.attempted_at, t0 + 10min);
  EXPECT_EQ(row.finalized_at, t0 + 10min);
}

TEST_F(jobs_pgtest, CompletedJob) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = start(base_config(clock));
  const auto id = client.jobs().insert(Task{"complete"}).job.id;
  ASSERT_TRUE(eventually(in_state(id, JobState::completed)));
  const JobRow row = get(id);
  EXPECT_EQ(row.attempt, 1);
  EXPECT_EQ(row.attempted_by, client.id());
  EXPECT_EQ(row.attempted_at, t0);
  EXPECT_EQ(row.finalized_at, t0);
  EXPECT_TRUE(row.errors.empty());
  EXPECT_EQ(recorder_->runs(id), 1);
}

TEST_F(jobs_pgtest, RetryRecordsTheErrorAndBacksOff) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = start(base_config(clock));  // backoff attempt^4 s, no jitter
  const auto once = client.jobs().insert(Task{"fail_once"}).job.id;
  const auto always = client.jobs().insert(Task{"retry"}, {.max_attempts = 5}).job.id;

  ASSERT_TRUE(eventually(in_state(once, JobState::retryable)));
  ASSERT_TRUE(eventually(in_state(always, JobState::retryable)));
  JobRow row = get(once);
  EXPECT_EQ(row.attempt, 1);
  EXPECT_EQ(row.scheduled_at, t0 + 1s) << "attempt 1: 1^4 s";
  EXPECT_FALSE(row.finalized_at.has_value());
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].attempt, 1);
  EXPECT_EQ(row.errors[0].error, "first try fails");
  EXPECT_EQ(row.errors[0].type, "retry");
  EXPECT_EQ(row.errors[0].at, t0);

  // Not due a microsecond early: once the probe (due earlier) ran, the scheduler has seen
  // t0 + 1 s - 1 us, and the retries must still wait.
  const auto probe = client.jobs().insert(Task{"complete", 2}, {.scheduled_at = t0 + 500ms}).job;
  clock.set(t0 + 1s - 1us);
  ASSERT_TRUE(eventually(in_state(probe.id, JobState::completed)));
  EXPECT_EQ(state(once), JobState::retryable);
  EXPECT_EQ(recorder_->runs(once), 1);

  clock.set(t0 + 1s);
  ASSERT_TRUE(eventually(in_state(once, JobState::completed)));
  row = get(once);
  EXPECT_EQ(row.attempt, 2);
  EXPECT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(recorder_->runs(once), 2);

  // The second failure backs off 2^4 s from when it failed.
  ASSERT_TRUE(
      eventually([&] { return get(always).attempt == 2 && state(always) == JobState::retryable; }));
  row = get(always);
  EXPECT_EQ(row.scheduled_at, t0 + 1s + 16s);
  ASSERT_EQ(row.errors.size(), 2u);
  EXPECT_EQ(row.errors[0].attempt, 1);
  EXPECT_EQ(row.errors[1].attempt, 2);
  EXPECT_EQ(row.errors[1].error, "boom");
  EXPECT_EQ(row.errors[1].at, t0 + 1s);
}

TEST_F(jobs_pgtest, ExceptionIsRecordedWithItsTypeAndMessage) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = start(base_config(clock));
  const auto custom = client.jobs().insert(Task{"throw"}).job.id;
  const auto standard = client.jobs().insert(Task{"throw_std"}).job.id;

  ASSERT_TRUE(eventually(in_state(custom, JobState::retryable)));
  JobRow row = get(custom);
  EXPECT_EQ(row.attempt, 1);
  EXPECT_EQ(row.scheduled_at, t0 + 1s);
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].type, "jobs_pgtest_errors::TransientError");
  EXPECT_EQ(row.errors[0].error, "disk full");
  EXPECT_EQ(row.errors[0].attempt, 1);

  ASSERT_TRUE(eventually(in_state(standard, JobState::retryable)));
  row = get(standard);
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].type, "std::out_of_range");
  EXPECT_EQ(row.errors[0].error, "index 7");

  const auto non_standard = client.jobs().insert(Task{"throw_int"}).job.id;
  ASSERT_TRUE(eventually(in_state(non_standard, JobState::retryable)));
  row = get(non_standard);
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].type, "unknown");
}

TEST_F(jobs_pgtest, ExhaustedAttemptsDiscardTheJob) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Config cfg = base_config(clock);
  cfg.retry_policy = std::make_shared<FixedDelay>(0ms);
  Client& client = start(cfg);
  const auto id = client.jobs().insert(Task{"retry"}, {.max_attempts = 3}).job.id;

  ASSERT_TRUE(eventually(in_state(id, JobState::discarded)));
  const JobRow row = get(id);
  EXPECT_EQ(row.attempt, 3);
  EXPECT_EQ(row.finalized_at, t0);
  ASSERT_EQ(row.errors.size(), 3u);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    EXPECT_EQ(row.errors[static_cast<std::size_t>(attempt - 1)].attempt, attempt);
    EXPECT_EQ(row.errors[static_cast<std::size_t>(attempt - 1)].type, "retry");
  }
  EXPECT_EQ(recorder_->runs(id), 3);
}

TEST_F(jobs_pgtest, CancelResultCancelsTheJob) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = start(base_config(clock));
  const auto id = client.jobs().insert(Task{"cancel"}).job.id;
  ASSERT_TRUE(eventually(in_state(id, JobState::cancelled)));
  const JobRow row = get(id);
  EXPECT_EQ(row.attempt, 1);
  EXPECT_EQ(row.finalized_at, t0);
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].error, "not needed");
  EXPECT_EQ(row.errors[0].type, "cancel");
  EXPECT_EQ(recorder_->runs(id), 1);
}

TEST_F(jobs_pgtest, SnoozeDoesNotUseAnAttempt) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = start(base_config(clock));
  // With max_attempts = 1 the second run is only allowed if the snooze gave the attempt back.
  const auto id = client.jobs().insert(Task{"snooze_once", 30}, {.max_attempts = 1}).job.id;

  ASSERT_TRUE(eventually(in_state(id, JobState::scheduled)));
  JobRow row = get(id);
  EXPECT_EQ(row.attempt, 0);
  EXPECT_EQ(row.scheduled_at, t0 + 30s);
  EXPECT_TRUE(row.errors.empty());
  EXPECT_FALSE(row.finalized_at.has_value());

  clock.set(t0 + 30s);
  ASSERT_TRUE(eventually(in_state(id, JobState::completed)));
  row = get(id);
  EXPECT_EQ(row.attempt, 1);
  EXPECT_EQ(recorder_->runs(id), 2);
}

TEST_F(jobs_pgtest, TimeoutFiresTheStopTokenAndRecordsTimeout) {
  FakeClock clock;
  Config cfg = base_config(clock);
  cfg.job_timeout = 200ms;  // for "task"; "timed_task" overrides it
  cfg.workers.add(std::make_shared<TaskWorker<TimedTask>>(recorder_, 100ms));
  Client& client = start(cfg);
  const auto by_client = client.jobs().insert(Task{"wait_stop"}).job.id;
  const auto by_worker = client.jobs().insert(TimedTask{"wait_stop"}).job.id;

  for (auto [id, timeout] : {std::pair{by_client, 200ms}, std::pair{by_worker, 100ms}}) {
    ASSERT_TRUE(eventually(in_state(id, JobState::retryable))) << id;
    auto stopped_after = recorder_->stop_seen(id);
    ASSERT_TRUE(stopped_after.has_value()) << "the stop token did not fire";
    EXPECT_GE(*stopped_after, timeout - 20ms);
    // Well before the worker's own 10 s limit: the deadline fired it, not something else.
    EXPECT_LT(*stopped_after, timeout + 5s) << "the stop token fired late";
    const JobRow row = get(id);
    EXPECT_EQ(row.attempt, 1);
    ASSERT_EQ(row.errors.size(), 1u);
    EXPECT_EQ(row.errors[0].type, "timeout");
    EXPECT_TRUE(
        row.errors[0].error.starts_with(fmt::format("timed out after {} ms", timeout.count())))
        << row.errors[0].error;
  }
}

TEST_F(jobs_pgtest, CancelWaitingJobs) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = add_client(base_config(clock));
  const auto available = client.jobs().insert(Task{}, {.queue = "idle"}).job.id;
  const auto scheduled = client.jobs().insert(Task{}, {.scheduled_at = t0 + 1h}).job.id;
  const auto retryable = client.jobs().insert(Task{}, {.queue = "idle"}).job.id;
  pool_->exec(
      fmt::format("UPDATE {} SET state = 'retryable', scheduled_at = $1 WHERE id = $2", table()),
      t0 + 1h, retryable);

  for (auto id : {available, scheduled, retryable}) {
    const JobRow returned = client.jobs().cancel(id);
    EXPECT_EQ(returned.state, JobState::cancelled);
    const JobRow row = get(id);
    EXPECT_EQ(row.state, JobState::cancelled);
    EXPECT_EQ(row.finalized_at, t0);
    EXPECT_EQ(row.attempt, 0);
  }
}

TEST_F(jobs_pgtest, CancelLeavesFinishedJobsAlone) {
  Client& client = start(base_config());
  const auto id = client.jobs().insert(Task{"complete"}).job.id;
  ASSERT_TRUE(eventually(in_state(id, JobState::completed)));
  EXPECT_EQ(client.jobs().cancel(id).state, JobState::completed);
  EXPECT_EQ(state(id), JobState::completed);
}

TEST_F(jobs_pgtest, CancelRunningJobSignalsItAndEndsCancelled) {
  Client& client = start(base_config());
  const auto id = client.jobs().insert(Task{"wait_stop"}).job.id;
  ASSERT_TRUE(eventually([&] { return recorder_->runs(id) == 1; }));

  const JobRow returned = client.jobs().cancel(id);
  EXPECT_EQ(returned.state, JobState::running) << "cancelled when its attempt ends";
  EXPECT_TRUE(returned.metadata.contains("cancel_requested_at"));

  ASSERT_TRUE(eventually(in_state(id, JobState::cancelled), 5s));
  EXPECT_TRUE(recorder_->stop_seen(id).has_value()) << "the running job's stop token fired";
  const JobRow row = get(id);
  EXPECT_TRUE(row.finalized_at.has_value());
  EXPECT_EQ(row.attempt, 1);
  EXPECT_EQ(recorder_->runs(id), 1);
}

TEST_F(jobs_pgtest, CancelRunningJobPublishesCancelledEvent) {
  Client& client = add_client(base_config());
  auto events = client.jobs().subscribe();
  client.start();
  const auto id = client.jobs().insert(Task{"wait_stop"}).job.id;
  ASSERT_TRUE(eventually([&] { return recorder_->runs(id) == 1; }));
  client.jobs().cancel(id);
  ASSERT_TRUE(eventually(in_state(id, JobState::cancelled), 5s));

  std::optional<JobEvent> event;
  for (auto deadline = Clock::now() + 5s; !event && Clock::now() < deadline;) {
    auto next = events.next(100ms);
    if (next && next->job.id == id) event = next;
  }
  ASSERT_TRUE(event.has_value()) << "no event for the cancelled job";
  EXPECT_EQ(event->kind, JobEventKind::cancelled)
      << "the job ended cancelled but the event says " << delta::jobs::to_string(event->kind);
}

TEST_F(jobs_pgtest, RetryMakesADiscardedJobAvailableAgain) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Client& client = start(base_config(clock));
  const auto id = client.jobs().insert(Task{"fail_once"}, {.max_attempts = 1}).job.id;
  ASSERT_TRUE(eventually(in_state(id, JobState::discarded)));

  clock.advance(1min);
  const JobRow returned = client.jobs().retry(id);
  EXPECT_EQ(returned.attempt, 1);
  EXPECT_EQ(returned.max_attempts, 2) << "exhausted attempts grow by one";
  EXPECT_FALSE(returned.finalized_at.has_value());
  EXPECT_EQ(returned.scheduled_at, t0 + 1min);

  ASSERT_TRUE(eventually(in_state(id, JobState::completed)));
  const JobRow row = get(id);
  EXPECT_EQ(row.attempt, 2);
  EXPECT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(recorder_->runs(id), 2);
}

TEST_F(jobs_pgtest, RetryLeavesARunningJobAlone) {
  Client& client = start(base_config());
  const auto id = client.jobs().insert(Task{"wait_stop"}).job.id;
  ASSERT_TRUE(eventually([&] { return recorder_->runs(id) == 1; }));
  const JobRow returned = client.jobs().retry(id);
  EXPECT_EQ(returned.state, JobState::running);
  EXPECT_EQ(returned.attempt, 1);
  EXPECT_EQ(state(id), JobState::running);
}

TEST_F(jobs_pgtest, RetryOfAJobCancelledWhileRunningRunsItAgain) {
  Client& client = start(base_config());
  const auto id = client.jobs().insert(Task{"wait_stop_once"}).job.id;
  ASSERT_TRUE(eventually([&] { return recorder_->runs(id) == 1; }));
  client.jobs().cancel(id);
  ASSERT_TRUE(eventually(in_state(id, JobState::cancelled), 5s));

  const JobRow returned = client.jobs().retry(id);
  EXPECT_EQ(returned.state, JobState::available);
  EXPECT_FALSE(returned.metadata.contains("cancel_requested_at"))
      << "the old cancel request must not cancel the new attempt";
  ASSERT_TRUE(eventually(in_state(id, JobState::completed)));
  EXPECT_EQ(get(id).attempt, 2);
  EXPECT_EQ(recorder_->runs(id), 2);
}

TEST_F(jobs_pgtest, PauseStopsFetchingAndResumeRestartsIt) {
  Config cfg = base_config();
  cfg.queues["other"] = {.max_workers = 1};
  Client& client = start(cfg);
  client.jobs().pause_queue("default");
  EXPECT_EQ(pool_
                ->exec(fmt::format("SELECT count(*) FROM {} WHERE name = 'default' AND "
                                   "paused_at IS NOT NULL",
                                   table("delta_queue")))
                .one()
                .get<std::int64_t>(0),
            1);

  const auto paused = client.jobs().insert(Task{"complete", 1}).job.id;
  const auto marker = client.jobs().insert(Task{"complete", 2}, {.queue = "other"}).job.id;
  ASSERT_TRUE(eventually(in_state(marker, JobState::completed)));
  EXPECT_TRUE(consistently([&] { return state(paused) == JobState::available; }, 300ms))
      << "a job of a paused queue was fetched";

  client.jobs().resume_queue("default");
  EXPECT_TRUE(eventually(in_state(paused, JobState::completed), 5s));
}

TEST_F(jobs_pgtest, ErrorsKeepOnlyTheLastTwenty) {
  Config cfg = base_config();
  cfg.retry_policy = std::make_shared<FixedDelay>(0ms);
  Client& client = start(cfg);
  const auto id = client.jobs().insert(Task{"retry_numbered"}, {.max_attempts = 25}).job.id;

  ASSERT_TRUE(eventually(in_state(id, JobState::discarded), 30s));
  const JobRow row = get(id);
  EXPECT_EQ(row.attempt, 25);
  ASSERT_EQ(row.errors.size(), 20u);
  for (std::size_t error_idx = 0; error_idx < row.errors.size(); ++error_idx) {
    const int attempt = static_cast<int>(error_idx) + 6;
    EXPECT_EQ(row.errors[error_idx].attempt, attempt);
    EXPECT_EQ(row.errors[error_idx].error, fmt::format("failure {}", attempt));
  }
  EXPECT_EQ(recorder_->runs(id), 25);
}

TEST_F(jobs_pgtest, FetchOrderIsPriorityThenScheduledTimeThenId) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Config cfg = base_config(clock);
  cfg.queues["default"] = {.max_workers = 1};
  Client& client = start(cfg);
  client.jobs().pause_queue("default");
  client.jobs().insert(Task{"complete", 1}, {.priority = 2, .scheduled_at = t0});
  client.jobs().insert(Task{"complete", 2}, {.priority = 1, .scheduled_at = t0});
  client.jobs().insert(Task{"complete", 3}, {.priority = 1, .scheduled_at = t0 - 1min});
  client.jobs().insert(Task{"complete", 4}, {.priority = 4, .scheduled_at = t0 - 1h});
  client.jobs().insert(Task{"complete", 5}, {.priority = 2, .scheduled_at = t0});
  client.jobs().resume_queue("default");
  ASSERT_TRUE(eventually([&] { return count_jobs("state = 'completed'") == 5; }));
  EXPECT_EQ(recorder_->order(), (std::vector<int>{3, 2, 1, 5, 4}));
}

// Fetches continue after the last job the previous one took (internal::ScanCursors); a
// job inserted meanwhile ahead of it in fetch order -- a higher priority -- is still
// fetched next: its notification sends the next fetch back to the beginning.
TEST_F(jobs_pgtest, AHigherPriorityJobInsertedDuringABacklogRunsNext) {
  Config cfg = base_config();
  cfg.poll_interval = 30s;  // no periodic fetch from the beginning during the test
  cfg.queues["default"] = {.max_workers = 1};
  Client& client = start(cfg);
  std::vector<JobInsert> backlog(4, delta::jobs::make_insert(Task{"sleep", 300}, {.priority = 4}));
  client.jobs().insert_many(backlog);
  ASSERT_TRUE(eventually([&] { return recorder_->order().size() == 1; }, 5s));
  client.jobs().insert(Task{"complete", 1}, {.priority = 1});
  ASSERT_TRUE(eventually([&] { return count_jobs("state = 'completed'") == 5; }, 10s));
  EXPECT_EQ(recorder_->order(), (std::vector<int>{300, 1, 300, 300, 300}));
}

TEST_F(jobs_pgtest, StaleOutcomesAreFencedOut) {
  Client& client = start(base_config());
  const auto bumped = client.jobs().insert(Task{"sleep", 300}).job.id;
  const auto moved = client.jobs().insert(Task{"sleep", 300}).job.id;
  ASSERT_TRUE(
      eventually([&] { return recorder_->runs(bumped) == 1 && recorder_->runs(moved) == 1; }));
  // As if, while this client still ran them, each job had been rescued and fetched again:
  // by this client (a newer attempt), and by another client (same attempt number) that is
  // alive (the leader's first rescue pass, which may come late, leaves its job alone).
  pool_->exec(
      fmt::format("INSERT INTO {}.delta_client (id, hostname, pid, started_at, "
                  "heartbeat_at, metadata) VALUES ('other-client', 'test', 0, now(), "
                  "now() + interval '1 hour', '{{}}')",
                  schema_));
  pool_->exec(fmt::format("UPDATE {} SET attempt = attempt + 1 WHERE id = $1", table()), bumped);
  pool_->exec(fmt::format("UPDATE {} SET attempted_by = 'other-client' WHERE id = $1", table()),
              moved);

  ASSERT_TRUE(eventually(
      [&] { return recorder_->has_finished(bumped) && recorder_->has_finished(moved); }));
  EXPECT_TRUE(consistently(
      [&] { return state(bumped) == JobState::running && state(moved) == JobState::running; },
      300ms))
      << "a stale runner's outcome was applied";
  EXPECT_EQ(get(bumped).attempt, 2);
  EXPECT_EQ(get(moved).attempted_by, "other-client");
}

TEST_F(jobs_pgtest, FullFetchFetchesAgainAtOnce) {
  Config cfg = base_config();
  // Only the insert's NOTIFY and fetching again at once after a full fetch can drain the
  // queue within the test: the next poll would come a minute later.
  cfg.poll_interval = 1min;
  cfg.queues["default"] = {.max_workers = 2};
  Client& client = start(cfg);
  std::vector<JobInsert> batch(10, delta::jobs::make_insert(Task{"sleep", 20}));
  client.jobs().insert_many(batch);
  EXPECT_TRUE(eventually([&] { return count_jobs("state = 'completed'") == 10; }, 30s))
      << count_jobs("state = 'completed'") << " of 10 completed";
}

TEST_F(jobs_pgtest, RateLimitedNotifyStillWakesWorkers) {
  Config cfg = base_config();
  cfg.poll_interval = 10s;
  cfg.notify_rate_limit = 500ms;
  Client& client = start(cfg);
  const auto first = client.jobs().insert(Task{"complete", 1}).job.id;
  ASSERT_TRUE(eventually(in_state(first, JobState::completed), 3s));
  // Within the rate limit of the first insert's NOTIFY: this one is owed a trailing one.
  const auto second = client.jobs().insert(Task{"complete", 2}).job.id;
  EXPECT_TRUE(eventually(in_state(second, JobState::completed), 3s))
      << "a suppressed wake-up was never sent (poll interval is 10 s)";
}

TEST_F(jobs_pgtest, MaxWorkersLimitsConcurrency) {
  ASSERT_NO_FATAL_FAILURE(run_sleeping_batch(2, 6, 100));
  EXPECT_EQ(recorder_->peak_concurrency(), 2);
}

TEST_F(jobs_pgtest, AFetchedBatchReachesEveryIdleWorker) {
  // Workers are woken one after another (each woken worker wakes the next while jobs
  // remain); jobs that hold their worker must still end up running on every worker at once.
  Config cfg = base_config();
  cfg.queues["default"] = {.max_workers = 8};
  Client& client = start(cfg);
  client.jobs().insert_many(std::vector<JobInsert>(8, delta::jobs::make_insert(Task{"hold"})));
  EXPECT_TRUE(eventually([&] { return recorder_->concurrency() == 8; }))
      << "the chain stopped: " << recorder_->concurrency() << " of 8 workers run";
  recorder_->gate().open();
  EXPECT_TRUE(eventually([&] { return count_jobs("state = 'completed'") == 8; }));
}

TEST_F(jobs_pgtest, FetchTakesNoMoreThanTheFreeSlots) {
  Config cfg = base_config();
  cfg.queues["default"] = {.max_workers = 1};
  Client& first = start(cfg);
  Client& second = start(cfg);
  std::vector<JobInsert> batch(2, delta::jobs::make_insert(Task{"hold"}));
  first.jobs().insert_many(batch);
  // Neither client may hoard the second job while its only worker is busy: the jobs hold
  // their workers until both run.
  ASSERT_TRUE(eventually([&] { return recorder_->concurrency() == 2; }))
      << "one client took both jobs";
  EXPECT_EQ(count_jobs(fmt::format("state = 'running' AND attempted_by = '{}'", first.id())), 1);
  EXPECT_EQ(count_jobs(fmt::format("state = 'running' AND attempted_by = '{}'", second.id())), 1);
  recorder_->gate().open();
}

TEST_F(jobs_pgtest, WorkerRetryDelayOverridesThePolicy) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Config cfg = base_config(clock);
  cfg.workers.add(std::make_shared<TaskWorker<TimedTask>>(recorder_, delta::jobs::kDefaultTimeout,
                                                          std::chrono::minutes(5)));
  Client& client = start(cfg);
  const auto id = client.jobs().insert(TimedTask{"retry"}).job.id;
  ASSERT_TRUE(eventually(in_state(id, JobState::retryable)));
  EXPECT_EQ(get(id).scheduled_at, t0 + 5min);
}

TEST_F(jobs_pgtest, WorkersCanInsertFollowUpJobsThroughTheirClient) {
  Client& client = start(base_config());
  const auto id = client.jobs().insert(Task{"follow_up", 77}).job.id;
  ASSERT_TRUE(eventually(in_state(id, JobState::completed)));
  EXPECT_TRUE(eventually([&] {
    return count_jobs(
               "(args->>'n')::int = 77 AND args->>'action' = 'complete' AND state = "
               "'completed'") == 1;
  }));
}

// ---- uniqueness -------------------------------------------------------------------------

TEST_F(jobs_pgtest, ConcurrentUniqueInsertsMakeOneJob) {
  Client& client = add_client(base_config());
  constexpr int kThreads = 8;
  std::vector<delta::jobs::InsertResult> results(kThreads);
  std::latch ready(kThreads);
  std::vector<std::thread> threads;
  for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
    threads.emplace_back([&, thread_idx] {
      ready.arrive_and_wait();
      results[static_cast<std::size_t>(thread_idx)] =
          client.jobs().insert(Task{"complete", 7}, {.unique = {.by_args = true}});
    });
  }
  for (auto& thread : threads)
    thread.join();

  EXPECT_EQ(count_jobs(), 1);
  int skipped = 0;
  for (const auto& result : results) {
    if (result.unique_skipped_as_duplicate) ++skipped;
    EXPECT_EQ(result.job.id, results.front().job.id) << "every result names the one job";
  }
  EXPECT_EQ(skipped, kThreads - 1);
}

TEST_F(jobs_pgtest, UniqueByArgsDistinguishesArgs) {
  Client& client = add_client(base_config());
  const delta::jobs::UniqueOpts by_args{.by_args = true};
  auto first = client.jobs().insert(Task{"complete", 1}, {.unique = by_args});
  auto other = client.jobs().insert(Task{"complete", 2}, {.unique = by_args});
  auto again = client.jobs().insert(Task{"complete", 1}, {.unique = by_args});
  EXPECT_FALSE(first.unique_skipped_as_duplicate);
  EXPECT_FALSE(other.unique_skipped_as_duplicate);
  EXPECT_TRUE(again.unique_skipped_as_duplicate);
  EXPECT_EQ(again.job.id, first.job.id);
  EXPECT_EQ(again.job.args, first.job.args);
  // Without uniqueness, the same args insert again.
  EXPECT_FALSE(client.jobs().insert(Task{"complete", 1}).unique_skipped_as_duplicate);
  EXPECT_EQ(count_jobs(), 3);
}

TEST_F(jobs_pgtest, UniqueByPeriod) {
  FakeClock clock;
  // Periods are counted from the epoch: start at a quarter-hour boundary.
  auto period_start = std::chrono::floor<std::chrono::minutes>(clock.now());
  period_start -= std::chrono::minutes(period_start.time_since_epoch().count() % 15);
  clock.set(period_start + 1min);
  Client& client = add_client(base_config(clock));
  const InsertOpts opts{.unique = {.by_period = 15min}};

  auto first = client.jobs().insert(Task{}, opts);
  EXPECT_FALSE(first.unique_skipped_as_duplicate);
  clock.set(period_start + 14min + 59s);
  auto same_period = client.jobs().insert(Task{}, opts);
  EXPECT_TRUE(same_period.unique_skipped_as_duplicate);
  EXPECT_EQ(same_period.job.id, first.job.id);

  clock.set(period_start + 15min);
  auto next_period = client.jobs().insert(Task{}, opts);
  EXPECT_FALSE(next_period.unique_skipped_as_duplicate);
  EXPECT_NE(next_period.job.id, first.job.id);

  // scheduled_at, when given, picks the period.
  InsertOpts scheduled = opts;
  scheduled.scheduled_at = period_start + 31min;
  auto later = client.jobs().insert(Task{}, scheduled);
  EXPECT_FALSE(later.unique_skipped_as_duplicate);
  scheduled.scheduled_at = period_start + 44min;
  EXPECT_TRUE(client.jobs().insert(Task{}, scheduled).unique_skipped_as_duplicate);
  EXPECT_EQ(count_jobs(), 3);
}

TEST_F(jobs_pgtest, UniqueByQueue) {
  Client& client = add_client(base_config());
  auto in_alpha =
      client.jobs().insert(Task{"complete", 1}, {.queue = "alpha", .unique = {.by_queue = true}});
  auto alpha_other_args =
      client.jobs().insert(Task{"complete", 2}, {.queue = "alpha", .unique = {.by_queue = true}});
  auto in_beta =
      client.jobs().insert(Task{"complete", 1}, {.queue = "beta", .unique = {.by_queue = true}});
  EXPECT_FALSE(in_alpha.unique_skipped_as_duplicate);
  EXPECT_TRUE(alpha_other_args.unique_skipped_as_duplicate) << "args are not part of the key";
  EXPECT_EQ(alpha_other_args.job.id, in_alpha.job.id);
  EXPECT_FALSE(in_beta.unique_skipped_as_duplicate);

  // by_queue plus by_args: both must match.
  const InsertOpts both{.queue = "alpha", .unique = {.by_args = true, .by_queue = true}};
  auto keyed = client.jobs().insert(Task{"complete", 1}, both);
  auto keyed_other = client.jobs().insert(Task{"complete", 2}, both);
  EXPECT_FALSE(keyed.unique_skipped_as_duplicate);
  EXPECT_FALSE(keyed_other.unique_skipped_as_duplicate);
  EXPECT_TRUE(client.jobs().insert(Task{"complete", 2}, both).unique_skipped_as_duplicate);
  EXPECT_EQ(count_jobs(), 4);
}

TEST_F(jobs_pgtest, InsertManyWithDuplicates) {
  Client& client = add_client(base_config());
  const InsertOpts unique{.unique = {.by_args = true}};
  std::vector<JobInsert> batch;
  for (int n : {1, 2, 1, 3, 2})
    batch.push_back(delta::jobs::make_insert(Task{"complete", n}, unique));
  auto results = client.jobs().insert_many(batch);

  ASSERT_EQ(results.size(), 5u);
  const std::vector<bool> duplicate = {false, false, true, false, true};
  for (std::size_t result_idx = 0; result_idx < results.size(); ++result_idx) {
    EXPECT_EQ(results[result_idx].unique_skipped_as_duplicate, duplicate[result_idx]) << result_idx;
    EXPECT_EQ(results[result_idx].job.args, batch[result_idx].args) << "results in input order";
  }
  EXPECT_EQ(results[2].job.id, results[0].job.id);
  EXPECT_EQ(results[4].job.id, results[1].job.id);
  EXPECT_NE(results[0].job.id, results[1].job.id);
  EXPECT_NE(results[3].job.id, results[0].job.id);
  EXPECT_EQ(count_jobs(), 3);

  // A later batch: a duplicate of an existing row, and a new job.
  std::vector<JobInsert> more = {delta::jobs::make_insert(Task{"complete", 3}, unique),
                                 delta::jobs::make_insert(Task{"complete", 4}, unique)};
  auto second = client.jobs().insert_many(more);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_TRUE(second[0].unique_skipped_as_duplicate);
  EXPECT_EQ(second[0].job.id, results[3].job.id);
  EXPECT_EQ(second[0].job.state, JobState::available);
  EXPECT_FALSE(second[1].unique_skipped_as_duplicate);
  EXPECT_EQ(count_jobs(), 4);
}

TEST_F(jobs_pgtest, UniqueByStateWithoutCompletedAllowsANewJobAfterCompletion) {
  Client& client = start(base_config());
  const InsertOpts open_only{.unique = {.by_args = true,
                                        .by_state = {JobState::available, JobState::scheduled,
                                                     JobState::running, JobState::retryable}}};
  auto first = client.jobs().insert(Task{"complete", 1}, open_only);
  ASSERT_TRUE(eventually(in_state(first.job.id, JobState::completed)));
  auto second = client.jobs().insert(Task{"complete", 1}, open_only);
  EXPECT_FALSE(second.unique_skipped_as_duplicate);
  EXPECT_NE(second.job.id, first.job.id);

  // The default states include completed: a completed job still blocks.
  const InsertOpts by_default{.unique = {.by_args = true}};
  auto original = client.jobs().insert(Task{"complete", 2}, by_default);
  ASSERT_TRUE(eventually(in_state(original.job.id, JobState::completed)));
  auto blocked = client.jobs().insert(Task{"complete", 2}, by_default);
  EXPECT_TRUE(blocked.unique_skipped_as_duplicate);
  EXPECT_EQ(blocked.job.id, original.job.id);
  EXPECT_EQ(blocked.job.state, JobState::completed);
}

// ---- transactional inserts --------------------------------------------------------------

TEST_F(jobs_pgtest, InsertTxRolledBackLeavesNoJob) {
  Client& client = start(base_config());
  std::int64_t rolled_back = 0;
  {
    auto tx = pool_->begin();
    rolled_back = client.jobs().insert_tx(tx, Task{"complete", 666}).job.id;
    std::vector<JobInsert> more(2, delta::jobs::make_insert(Task{"complete", 666}));
    EXPECT_EQ(client.jobs().insert_many_tx(tx, more).size(), 2u);
    // While the transaction is open, the running client does not see the job.
    const auto marker = client.jobs().insert(Task{"complete", 1}).job.id;
    ASSERT_TRUE(eventually(in_state(marker, JobState::completed)));
    tx.rollback();
  }
  const auto marker = client.jobs().insert(Task{"complete", 2}).job.id;
  ASSERT_TRUE(eventually(in_state(marker, JobState::completed)));

  EXPECT_EQ(count_jobs(fmt::format("id = {}", rolled_back)), 0);
  EXPECT_EQ(count_jobs("(args->>'n')::int = 666"), 0);
  EXPECT_THROW(get(rolled_back), delta::NotFound);
  const auto order = recorder_->order();
  EXPECT_EQ(std::count(order.begin(), order.end(), 666), 0) << "a rolled-back job ran";
  EXPECT_EQ(recorder_->runs(rolled_back), 0);
}

TEST_F(jobs_pgtest, InsertTxCommittedRunsAndNotifyWakesWorkers) {
  Config cfg = base_config();
  cfg.poll_interval = 1min;  // only the NOTIFY can make a job run within the test
  Client& client = start(cfg);

  auto insert_committed = [&](int n) {
    auto tx = pool_->begin();
    auto id = client.jobs().insert_tx(tx, Task{"complete", n}).job.id;
    EXPECT_EQ(count_jobs(fmt::format("id = {}", id)), 0) << "invisible before commit";
    tx.commit();
    return id;
  };
  // The first job may be picked up by the producer's initial fetch; after it, the
  // producer sleeps for the whole poll interval unless notified.
  const auto first = insert_committed(1);
  ASSERT_TRUE(eventually(in_state(first, JobState::completed)));

  const auto second = insert_committed(2);
  EXPECT_TRUE(eventually(in_state(second, JobState::completed), 20s))
      << "the commit's NOTIFY did not wake the worker (poll interval is 1 min)";
}

// ---- events -----------------------------------------------------------------------------

TEST_F(jobs_pgtest, SubscribersReceiveOutcomeEvents) {
  FakeClock clock;
  Client& client = add_client(base_config(clock));
  auto all = client.jobs().subscribe();
  auto failed_only = client.jobs().subscribe({JobEventKind::failed});
  client.start();

  const auto done = client.jobs().insert(Task{"complete"}).job.id;
  const auto failing = client.jobs().insert(Task{"fail_once"}).job.id;
  const auto doomed = client.jobs().insert(Task{"retry"}, {.max_attempts = 1}).job.id;
  const auto snoozing = client.jobs().insert(Task{"snooze_once", 30}).job.id;

  std::map<std::int64_t, JobEvent> events;
  for (auto deadline = Clock::now() + 10s; events.size() < 4 && Clock::now() < deadline;) {
    if (auto event = all.next(100ms)) events.emplace(event->job.id, *event);
  }
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events.at(done).kind, JobEventKind::completed);
  EXPECT_EQ(events.at(done).job.kind, "task");
  EXPECT_EQ(events.at(done).job.attempt, 1);
  EXPECT_EQ(events.at(failing).kind, JobEventKind::failed);
  EXPECT_EQ(events.at(failing).error, "first try fails");
  EXPECT_EQ(events.at(doomed).kind, JobEventKind::discarded);
  EXPECT_EQ(events.at(doomed).error, "boom");
  EXPECT_EQ(events.at(snoozing).kind, JobEventKind::snoozed);

  auto only = failed_only.next(2s);
  ASSERT_TRUE(only.has_value());
  EXPECT_EQ(only->kind, JobEventKind::failed);
  EXPECT_EQ(only->job.id, failing);
  EXPECT_FALSE(failed_only.next(200ms).has_value()) << "a filtered subscription got another kind";
  EXPECT_EQ(all.dropped(), 0u);
}

TEST_F(jobs_pgtest, FullSubscriptionCountsDrops) {
  Client& client = add_client(base_config());
  auto tiny = client.jobs().subscribe({}, 1);
  client.start();
  std::vector<JobInsert> batch(3, delta::jobs::make_insert(Task{"complete"}));
  client.jobs().insert_many(batch);

  ASSERT_TRUE(eventually([&] { return count_jobs("state = 'completed'") == 3; }));
  ASSERT_TRUE(eventually([&] { return tiny.dropped() == 2; }))
      << "dropped " << tiny.dropped() << " of 3 events with room for 1";
  auto kept = tiny.next(0ms);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->kind, JobEventKind::completed);
  EXPECT_FALSE(tiny.next(0ms).has_value());
  client.stop(1s);
  EXPECT_TRUE(tiny.closed()) << "stopping the client ends delivery";
}

// ---- stopping ---------------------------------------------------------------------------

TEST_F(jobs_pgtest, StopReleasesAJobThatIgnoresCancellation) {
  Client& client = start(base_config());
  const auto id = client.jobs().insert(Task{"ignore_stop", 800}).job.id;
  ASSERT_TRUE(eventually([&] { return recorder_->runs(id) == 1; }));
  ASSERT_EQ(state(id), JobState::running);

  client.stop(100ms);
  // stop() waited for the worker thread; its late "complete" must not have applied.
  const JobRow row = get(id);
  EXPECT_EQ(row.state, JobState::available);
  EXPECT_EQ(row.attempt, 0) << "an interrupted attempt is given back";
  EXPECT_TRUE(row.errors.empty());
  EXPECT_FALSE(row.finalized_at.has_value());
}

TEST_F(jobs_pgtest, StopCancelsAJobThatHonoursItsStopToken) {
  Client& client = start(base_config());
  const auto id = client.jobs().insert(Task{"wait_stop"}).job.id;
  ASSERT_TRUE(eventually([&] { return recorder_->runs(id) == 1; }));

  const auto stop_started = Clock::now();
  client.stop(100ms);
  // The job would hold its worker for 10 s if the token did not reach it.
  EXPECT_LT(Clock::now() - stop_started, 8s);
  EXPECT_TRUE(recorder_->stop_seen(id).has_value());
  const JobRow row = get(id);
  EXPECT_EQ(row.state, JobState::available);
  EXPECT_EQ(row.attempt, 0) << "an interrupted attempt is given back";
  EXPECT_TRUE(row.errors.empty()) << "a stop is not a failed attempt";
}

TEST_F(jobs_pgtest, StopWaitsForRunningJobsWithinTheGracePeriod) {
  Client& client = start(base_config());
  const auto id = client.jobs().insert(Task{"sleep", 300}).job.id;
  ASSERT_TRUE(eventually([&] { return recorder_->runs(id) == 1; }));
  client.stop(5s);
  const JobRow row = get(id);
  EXPECT_EQ(row.state, JobState::completed) << "finished within the grace period";
  EXPECT_EQ(row.attempt, 1);
}

TEST_F(jobs_pgtest, CancelledJobInterruptedByStopStaysCancelled) {
  Client& client = start(base_config());
  const auto id = client.jobs().insert(Task{"ignore_stop", 800}).job.id;
  ASSERT_TRUE(eventually([&] { return recorder_->runs(id) == 1; }));
  client.jobs().cancel(id);
  client.stop(100ms);
  EXPECT_EQ(state(id), JobState::cancelled)
      << "an operator cancelled the job; stopping must not make it available to run again";
}

TEST_F(jobs_pgtest, DestructorStopsTheClient) {
  std::string id;
  std::int64_t job = 0;
  {
    Client client(pool_, base_config());
    client.start();
    id = client.id();
    job = client.jobs().insert(Task{"sleep", 200}).job.id;
    ASSERT_TRUE(eventually([&] { return recorder_->runs(job) == 1; }));
    ASSERT_TRUE(eventually([&] { return client.is_leader(); }));
  }
  EXPECT_EQ(state(job), JobState::completed) << "the destructor let the running job finish";
  EXPECT_TRUE(
      pool_->exec(fmt::format("SELECT stopped_at FROM {} WHERE id = $1", table("delta_client")), id)
          .one()
          .get<std::optional<Timestamp>>(0)
          .has_value());
  EXPECT_EQ(pool_->exec(fmt::format("SELECT count(*) FROM {}", table("delta_leader")))
                .one()
                .get<std::int64_t>(0),
            0)
      << "the leader resigned";
}

// ---- robustness -------------------------------------------------------------------------

TEST_F(jobs_pgtest, UnparseableArgsAreAFailedAttempt) {
  FakeClock clock;
  Config cfg = base_config(clock);
  cfg.workers.add(std::make_shared<StrictWorker>(recorder_));
  Client& client = add_client(cfg);
  const auto id = client.jobs().insert(Strict{1}).job.id;
  pool_->exec(
      fmt::format(R"(UPDATE {} SET args = '{{"n": "not a number"}}' WHERE id = $1)", table()), id);
  client.start();

  ASSERT_TRUE(eventually(in_state(id, JobState::retryable)));
  const JobRow row = get(id);
  EXPECT_EQ(row.attempt, 1);
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_TRUE(contains(row.errors[0].type, "type_error")) << row.errors[0].type;
  EXPECT_TRUE(contains(row.errors[0].error, "type must be number")) << row.errors[0].error;
  EXPECT_EQ(recorder_->runs(id), 0) << "work() never saw the broken args";

  const auto next = client.jobs().insert(Task{"complete"}).job.id;
  EXPECT_TRUE(eventually(in_state(next, JobState::completed))) << "the client kept working";
}

// Exception messages are arbitrary bytes. Recording one that jsonb cannot store must not
// block the outcomes of every other job.
void JobsPgTest::expect_unstorable_error_does_not_stall(const std::string& action,
                                                        const std::string& type,
                                                        const std::string& part) {
  Client& client = start(base_config());
  const auto bad = client.jobs().insert(Task{action}).job.id;
  ASSERT_TRUE(eventually([&] { return recorder_->runs(bad) == 1; }));
  const auto good = client.jobs().insert(Task{"complete"}).job.id;
  ASSERT_TRUE(eventually(in_state(good, JobState::completed), 3s))
      << "a plain job's outcome was not written; it is " << delta::jobs::to_string(state(good));
  ASSERT_TRUE(eventually(in_state(bad, JobState::retryable), 3s));
  const JobRow row = get(bad);
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].type, type);
  EXPECT_TRUE(contains(row.errors[0].error, part)) << row.errors[0].error;
}

TEST_F(jobs_pgtest, ErrorMessageThatIsNotUtf8DoesNotStallOutcomes) {
  expect_unstorable_error_does_not_stall("throw_latin1", "std::runtime_error", "au lait");
}

TEST_F(jobs_pgtest, ErrorMessageWithANulByteDoesNotStallOutcomes) {
  expect_unstorable_error_does_not_stall("retry_nul", "retry", "nul");
}

TEST_F(jobs_pgtest, JobsOfUnknownKindsAreNeverTouched) {
  Client& client = start(base_config());
  const auto orphan =
      client.jobs()
          .insert(JobInsert{.kind = "nobody_works_this", .args = {{"x", 1}}, .opts = {}})
          .job.id;
  const auto marker = client.jobs().insert(Task{"complete"}).job.id;
  ASSERT_TRUE(eventually(in_state(marker, JobState::completed)));
  EXPECT_TRUE(consistently(
      [&] {
        const JobRow row = get(orphan);
        return row.state == JobState::available && row.attempt == 0 && !row.attempted_by;
      },
      300ms));
}

TEST_F(jobs_pgtest, WorkersRecoverFromKilledConnections) {
  const std::string app = "jk-" + schema_;
  auto worker_pool = delta::testing::make_pool({.max_connections = 10, .application_name = app});
  Config cfg = base_config();
  cfg.queues["default"] = {.max_workers = 8};
  start(cfg, worker_pool);
  Client& inserter = add_client(base_config());  // on the test's own pool

  auto insert_batch = [&](int count) {
    std::vector<JobInsert> batch(static_cast<std::size_t>(count),
                                 delta::jobs::make_insert(Task{"sleep", 20}));
    inserter.jobs().insert_many(batch);
  };
  insert_batch(60);
  ASSERT_TRUE(eventually([&] { return count_jobs("state = 'completed'") >= 8; }));

  // Kill every connection of the worker's pool (and its listener) mid-drain.
  const auto killed = pool_
                          ->exec(
                              "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE application_name = $1 AND pid <> pg_backend_pid()",
                              app)
                          .one()
                          .get<std::int64_t>(0);
  EXPECT_GE(killed, 1);
  insert_batch(60);

  ASSERT_TRUE(eventually([&] { return count_jobs("state = 'completed'") == 120; }, 30s))
      << count_jobs("state = 'completed'") << " of 120 completed; states: "
      << pool_
             ->exec(fmt::format("SELECT string_agg(state::text || '=' || n, ', ') FROM (SELECT "
                                "state, count(*) n FROM {} GROUP BY state) s",
                                table()))
             .one()
             .get<std::optional<std::string>>(0)
             .value_or("");
  const auto runs = recorder_->all_runs();
  EXPECT_EQ(runs.size(), 120u);
  for (const auto& [id, count] : runs)
    EXPECT_EQ(count, 1) << "job " << id << " ran twice";
  EXPECT_EQ(recorder_->total(), 120);
}

// ---- leadership and maintenance ---------------------------------------------------------

TEST_F(jobs_pgtest, OneLeaderAndQuickHandoverOnStop) {
  // Both clients hold their first election at start; after that the follower would retry
  // only every minute, so taking over within 20 s of the leader's stop relies on the
  // resignation being announced (LeaseRenewalsKeepOneLeaderOverSeveralTtls covers short
  // leases).
  Config cfg = base_config();
  cfg.leader_ttl = 3min;
  cfg.leader_renew_interval = 1min;
  Client& first = start(cfg);
  Client& second = start(cfg);

  ASSERT_TRUE(eventually([&] { return first.is_leader() != second.is_leader(); }, 5s));
  EXPECT_TRUE(consistently([&] { return first.is_leader() != second.is_leader(); }, 500ms))
      << "exactly one client leads";
  Client& leader = first.is_leader() ? first : second;
  Client& follower = first.is_leader() ? second : first;
  auto leader_id = [&] {
    return pool_->exec(fmt::format("SELECT leader_id FROM {}", table("delta_leader")))
        .one()
        .get<std::string>(0);
  };
  EXPECT_EQ(leader_id(), leader.id());

  leader.stop(1s);
  EXPECT_FALSE(leader.is_leader());
  ASSERT_TRUE(eventually([&] { return follower.is_leader(); }, 20s))
      << "the follower did not take over before its next election (1 min)";
  EXPECT_EQ(leader_id(), follower.id());
}

TEST_F(jobs_pgtest, ClientHeartbeatsAndIsMarkedStopped) {
  Client& client = start(base_config());
  auto client_row = [&] {
    return pool_->exec(
        fmt::format("SELECT heartbeat_at, stopped_at, metadata FROM {} WHERE id = $1",
                    table("delta_client")),
        client.id());
  };
  const auto row = client_row();
  EXPECT_EQ(row.one().get<nlohmann::json>(2)["kinds"], (nlohmann::json{"task"}));
  EXPECT_FALSE(row.one().get<std::optional<Timestamp>>(1).has_value());
  const Timestamp first = row.one().get<Timestamp>(0);
  EXPECT_TRUE(eventually([&] { return client_row().one().get<Timestamp>(0) > first; }, 3s))
      << "no second heartbeat";

  client.stop(1s);
  EXPECT_TRUE(client_row().one().get<std::optional<Timestamp>>(1).has_value())
      << "stop() marks the client stopped";
}

TEST_F(jobs_pgtest, LeaseRenewalsKeepOneLeaderOverSeveralTtls) {
  Config cfg = base_config();
  cfg.leader_ttl = 400ms;
  cfg.leader_renew_interval = 100ms;
  Client& first = start(cfg);
  Client& second = start(cfg);
  ASSERT_TRUE(eventually([&] { return first.is_leader() != second.is_leader(); }, 3s));
  const bool first_leads = first.is_leader();
  // Over ~4 lease lifetimes the leader keeps renewing and the follower never takes over.
  EXPECT_TRUE(consistently(
      [&] { return first.is_leader() == first_leads && second.is_leader() == !first_leads; },
      1500ms));
}

TEST_F(jobs_pgtest, LeaderStepsDownWhenItsLeaseIsTaken) {
  Client& client = start(base_config());  // lease 2 s, renewed every 200 ms
  ASSERT_TRUE(eventually([&] { return client.is_leader(); }, 3s));
  pool_->exec(
      fmt::format("UPDATE {} SET leader_id = 'usurper', expires_at = now() + interval "
                  "'1 hour'",
                  table("delta_leader")));
  EXPECT_TRUE(eventually([&] { return !client.is_leader(); }, 3s))
      << "still believes it leads after another client took the lease";
  pool_->exec(fmt::format("DELETE FROM {}", table("delta_leader")));
  EXPECT_TRUE(eventually([&] { return client.is_leader(); }, 3s)) << "did not lead again";
}

TEST_F(jobs_pgtest, RescuerRecoversJobsOfDeadClients) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Config cfg = base_config(clock);
  cfg.rescuer_interval = 100ms;
  Client& client = add_client(cfg);

  // Running rows in a queue this client does not work, so they stay where the rescuer
  // puts them.
  auto insert_running = [&](const std::string& kind, int attempt, int max_attempts,
                            const std::string& attempted_by, std::optional<Timestamp> timeout_at) {
    return pool_
        ->exec(fmt::format("INSERT INTO {} (kind, queue, state, attempt, max_attempts, "
                           "attempted_at, attempted_by, timeout_at, args) VALUES ($1, "
                           "'elsewhere', 'running', $2, $3, $4, $5, $6, '{{}}') RETURNING id",
                           table()),
               kind, std::int32_t{attempt}, std::int32_t{max_attempts}, t0 - 1min, attempted_by,
               timeout_at)
        .one()
        .get<std::int64_t>(0);
  };
  const auto dead_retry = insert_running("task", 1, 5, "dead-client", std::nullopt);
  const auto dead_last = insert_running("task", 3, 3, "dead-client", std::nullopt);
  const auto dead_unknown = insert_running("mystery_kind", 3, 3, "dead-client", std::nullopt);
  const auto overdue = insert_running("task", 1, 5, client.id(), t0 - 2min);  // margin 1 min
  const auto alive = insert_running("task", 1, 5, client.id(), t0 + 1min);
  pool_->exec(fmt::format("INSERT INTO {} (id, heartbeat_at, stopped_at) VALUES ('stale-client', "
                          "$1, NULL), ('stopped-client', $2, $3)",
                          table("delta_client")),
              t0 - 1h, t0, t0 - 1min);
  const auto stale = insert_running("task", 1, 5, "stale-client", std::nullopt);
  const auto stopped = insert_running("task", 1, 5, "stopped-client", std::nullopt);
  client.start();

  ASSERT_TRUE(eventually([&] { return count_jobs("state = 'running'") == 1; }))
      << "rescued: " << count_jobs("state <> 'running'") << " of 6";

  JobRow row = get(dead_retry);
  EXPECT_EQ(row.state, JobState::retryable);
  EXPECT_EQ(row.attempt, 1);
  EXPECT_EQ(row.scheduled_at, t0 + 1s) << "the retry policy's delay for attempt 1";
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].type, "rescue");
  EXPECT_EQ(row.errors[0].attempt, 1);
  EXPECT_TRUE(contains(row.errors[0].error, "dead-client")) << row.errors[0].error;

  row = get(dead_last);
  EXPECT_EQ(row.state, JobState::discarded) << "the last attempt was lost";
  EXPECT_EQ(row.finalized_at, t0);
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].type, "rescue");

  row = get(dead_unknown);
  EXPECT_EQ(row.state, JobState::retryable) << "a kind the leader does not know is never discarded";
  EXPECT_EQ(row.scheduled_at, t0 + 81s);

  row = get(overdue);
  EXPECT_EQ(row.state, JobState::retryable);
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_TRUE(contains(row.errors[0].error, "timeout")) << row.errors[0].error;

  for (auto [id, reason] :
       {std::pair{stale, "stopped heartbeating"}, std::pair{stopped, "stopped"}}) {
    row = get(id);
    EXPECT_EQ(row.state, JobState::retryable) << reason;
    ASSERT_EQ(row.errors.size(), 1u);
    EXPECT_TRUE(contains(row.errors[0].error, reason)) << row.errors[0].error;
  }

  EXPECT_EQ(state(alive), JobState::running) << "a live client's job within its timeout";
}

TEST_F(jobs_pgtest, RescuedLastAttemptOfAnUnknownKindIsDiscardedByAClientThatKnowsIt) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Config leader_cfg = base_config(clock);  // knows only "task"
  leader_cfg.rescuer_interval = 100ms;
  leader_cfg.client_ttl = 1h;  // moving the clock must not make the clients look dead
  Client& leader = start(leader_cfg);
  ASSERT_TRUE(eventually([&] { return leader.is_leader(); }));

  const auto id =
      pool_
          ->exec(fmt::format("INSERT INTO {} (kind, state, attempt, max_attempts, attempted_at, "
                             "attempted_by) VALUES ('timed_task', 'running', 3, 3, $1, "
                             "'dead-client') RETURNING id",
                             table()),
                 t0)
          .one()
          .get<std::int64_t>(0);
  ASSERT_TRUE(eventually(in_state(id, JobState::retryable)));

  Config knows_cfg = base_config(clock);
  knows_cfg.client_ttl = 1h;
  knows_cfg.workers.add(std::make_shared<TaskWorker<TimedTask>>(recorder_));
  start(knows_cfg);
  clock.advance(81s);  // attempt 3's backoff
  ASSERT_TRUE(eventually(in_state(id, JobState::discarded)));
  const JobRow row = get(id);
  EXPECT_EQ(recorder_->runs(id), 0) << "no attempts were left to run";
  ASSERT_EQ(row.errors.size(), 2u);
  EXPECT_EQ(row.errors[0].type, "rescue");
}

TEST_F(jobs_pgtest, CleanerDeletesFinishedJobsPastRetention) {
  FakeClock clock;
  const Timestamp t0 = clock.now();
  Config cfg = base_config(clock);  // retention: completed 24 h, cancelled 24 h, discarded 7 d
  cfg.job_cleaner_interval = 100ms;
  Client& client = add_client(cfg);

  auto insert_final = [&](const std::string& final_state, Timestamp finalized_at) {
    return pool_
        ->exec(fmt::format("INSERT INTO {} (kind, queue, state, attempt, finalized_at) VALUES "
                           "('task', 'elsewhere', $1::text::\"{}\".job_state, 1, $2) RETURNING id",
                           table(), schema_),
               final_state, finalized_at)
        .one()
        .get<std::int64_t>(0);
  };
  const std::vector<std::int64_t> old_jobs = {insert_final("completed", t0 - 25h),
                                              insert_final("cancelled", t0 - 25h),
                                              insert_final("discarded", t0 - std::chrono::days(8))};
  const std::vector<std::int64_t> young_jobs = {
      insert_final("completed", t0 - 23h), insert_final("cancelled", t0 - 23h),
      insert_final("discarded", t0 - std::chrono::days(6))};
  const auto waiting = client.jobs().insert(Task{}, {.queue = "elsewhere"}).job.id;
  pool_->exec(
      fmt::format("UPDATE {} SET created_at = $1, scheduled_at = $1 WHERE id = $2", table()),
      t0 - std::chrono::days(30), waiting);
  client.start();

  ASSERT_TRUE(eventually([&] {
    return count_jobs(fmt::format("id IN ({}, {}, {})", old_jobs[0], old_jobs[1], old_jobs[2])) ==
           0;
  }));
  for (auto id : young_jobs)
    EXPECT_EQ(count_jobs(fmt::format("id = {}", id)), 1) << id;
  EXPECT_EQ(state(waiting), JobState::available);
}

TEST_F(jobs_pgtest, PeriodicJobRunsOncePerInterval) {
  FakeClock clock;
  Config cfg = base_config(clock);
  cfg.periodic_jobs.push_back(delta::jobs::every(10min,
                                                 [] {
                                                   return Task{"complete", 1};
                                                 },
                                                 {.run_on_start = true}));
  cfg.periodic_jobs.push_back(delta::jobs::every(10min,
                                                 [] {
                                                   return Task{"complete", 2};
                                                 },
                                                 {.name = "later"}));
  start(cfg);
  auto count_n = [&](int n) {
    return count_jobs(fmt::format("kind = 'task' AND (args->>'n')::int = {}", n));
  };

  ASSERT_TRUE(eventually([&] { return count_n(1) == 1; })) << "run_on_start";
  EXPECT_TRUE(consistently([&] { return count_n(1) == 1 && count_n(2) == 0; }, 300ms));

  clock.advance(10min);
  ASSERT_TRUE(eventually([&] { return count_n(1) == 2 && count_n(2) == 1; }));
  EXPECT_TRUE(consistently([&] { return count_n(1) == 2 && count_n(2) == 1; }, 300ms));

  clock.advance(10min);
  ASSERT_TRUE(eventually([&] { return count_n(1) == 3 && count_n(2) == 2; }));
  EXPECT_TRUE(consistently([&] { return count_n(1) == 3 && count_n(2) == 2; }, 300ms));
  EXPECT_TRUE(eventually([&] { return count_jobs("state <> 'completed'") == 0; }));
}

TEST_F(jobs_pgtest, PeriodicJobOncePerPeriodAcrossClientsAndRestarts) {
  FakeClock clock;
  Config cfg = base_config(clock);
  cfg.periodic_jobs.push_back(delta::jobs::every(10min,
                                                 [] {
                                                   return Task{"complete", 1};
                                                 },
                                                 {.run_on_start = true}));
  std::vector<Client*> running = {&start(cfg), &start(cfg)};
  auto leader = [&]() -> Client* {
    for (Client* client : running) {
      if (client->is_leader()) return client;
    }
    return nullptr;
  };
  auto restart_leader = [&] {
    Client* current = nullptr;
    EXPECT_TRUE(eventually([&] { return (current = leader()) != nullptr; }));
    if (current == nullptr) return;
    current->stop(1s);
    std::erase(running, current);
    running.push_back(&start(cfg));
    EXPECT_TRUE(eventually([&] { return leader() != nullptr; }, 5s)) << "no new leader";
  };

  ASSERT_TRUE(eventually([&] { return count_jobs() == 1; }));
  EXPECT_TRUE(consistently([&] { return count_jobs() == 1; }, 300ms));

  restart_leader();
  EXPECT_TRUE(consistently([&] { return count_jobs() == 1; }, 300ms))
      << "run_on_start inserted again after a restart";

  clock.advance(10min);
  ASSERT_TRUE(eventually([&] { return count_jobs() == 2; }));
  EXPECT_TRUE(consistently([&] { return count_jobs() == 2; }, 300ms));

  restart_leader();
  clock.advance(10min);
  ASSERT_TRUE(eventually([&] { return count_jobs() == 3; }));
  EXPECT_TRUE(consistently([&] { return count_jobs() == 3; }, 300ms));
}

// ---- start and configuration ------------------------------------------------------------

TEST_F(jobs_pgtest, StartOnAnUnmigratedSchemaThrowsSchemaError) {
  const std::string unmigrated = delta::testing::unique_schema("jobs_bare");
  Config cfg = base_config();
  cfg.schema = unmigrated;
  {
    Client client(pool_, cfg);
    EXPECT_THROW(client.start(), delta::SchemaError);
  }
  pool_->exec(fmt::format("CREATE SCHEMA \"{}\"", unmigrated));
  {
    Client client(pool_, cfg);
    EXPECT_THROW(client.start(), delta::SchemaError) << "an empty schema is not migrated";
  }
  delta::testing::drop_schema(*pool_, unmigrated);
}

TEST_F(jobs_pgtest, StartTwiceThrows) {
  Client& client = start(base_config());
  EXPECT_THROW(client.start(), delta::Error);
  client.stop(1s);
  EXPECT_THROW(client.start(), delta::Error) << "a stopped client does not start again";
}

TEST_F(jobs_pgtest, ClientConfigReportsEveryProblemAtOnce) {
  Config cfg;
  cfg.schema = "Bad Schema";
  cfg.poll_interval = 0ms;
  cfg.queues["Bad Queue"] = {.max_workers = 0};
  cfg.heartbeat_interval = -1ms;
  cfg.leader_ttl = 1s;
  cfg.leader_renew_interval = 5s;
  cfg.completer_batch_size = 0;
  try {
    Client client(pool_, cfg);
    ADD_FAILURE() << "a bad config was accepted";
  } catch (const delta::ConfigError& e) {
    EXPECT_GE(e.problems().size(), 6u);
    const std::string message = e.what();
    for (const char* part : {"schema", "poll_interval", "Bad Queue", "max_workers",
                             "heartbeat_interval", "leader_ttl", "completer_batch_size"}) {
      EXPECT_TRUE(contains(message, part)) << part << " missing from: " << message;
    }
  }
  EXPECT_THROW(Client(nullptr, base_config()), delta::ConfigError);
}

}  // namespace
