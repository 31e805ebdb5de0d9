// Informer runs against a live PostgreSQL: batched writes, the cursor (also when a run
// fails half way), the leader's inform scheduler across processes, jitter, disabled
// intervals, schedule_inform (with and without process_existing), deleted resources that
// informers must not resurrect, and bad input.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <delta/delta.hpp>

#include "support/keyed_objects.hpp"
#include "support/maintenance_config.hpp"
#include "support/pg_test.hpp"

namespace {

using namespace std::chrono_literals;
using delta::testing::consistently;
using delta::testing::eventually;
using delta::testing::ScratchSchema;

// Object i of a sequence is created at kBaseUs + i seconds.
constexpr std::int64_t kBaseUs = 1'700'000'000'000'000;
std::int64_t at_us(int i) {
  return kBaseUs + std::int64_t{i} * 1'000'000;
}
// A timestamp as microseconds since the epoch (-1: none), for readable assertion output.
std::int64_t us(const std::optional<delta::Timestamp>& t) {
  return t ? t->time_since_epoch().count() : -1;
}

// Failed inform jobs wait an hour: a test makes the retry due by hand (retry_now), so it
// can inspect the failed run before the retry replaces it.
class HourRetry final : public delta::jobs::RetryPolicy {
 public:
  std::chrono::milliseconds next_retry(const delta::jobs::JobRow&) override { return 1h; }
};

// maintenance_config with failed inform jobs waiting an hour (HourRetry).
delta::Config test_config(const std::string& schema) {
  delta::Config config = delta::testing::maintenance_config(schema);
  config.retry_policy = std::make_shared<HourRetry>();
  return config;
}

std::string job_kind(std::string_view kind) {
  return "delta.inform:" + std::string(kind);
}

// Inform jobs of `kind` in `state` (all states when empty).
std::int64_t inform_jobs(const ScratchSchema& schema, std::string_view kind,
                         std::string_view state = {}) {
  if (state.empty()) {
    return schema.pool()
        .exec("SELECT count(*) FROM " + schema.table("delta_job") + " WHERE kind = $1",
              job_kind(kind))
        .one()
        .get<std::int64_t>(0);
  }
  return schema.pool()
      .exec("SELECT count(*) FROM " + schema.table("delta_job") +
                " WHERE kind = $1 AND state::text = $2",
            job_kind(kind), std::string(state))
      .one()
      .get<std::int64_t>(0);
}

// The kind's cursor as stored (delta_controller.last_inform_time).
std::optional<delta::Timestamp> stored_cursor(const ScratchSchema& schema, std::string_view kind) {
  return schema.pool()
      .exec("SELECT last_inform_time FROM " + schema.table("delta_controller") + " WHERE kind = $1",
            std::string(kind))
      .one()
      .get<std::optional<delta::Timestamp>>(0);
}

std::int64_t resources(const ScratchSchema& schema, std::string_view kind,
                       std::string_view state = {}) {
  if (state.empty()) {
    return schema.pool()
        .exec("SELECT count(*) FROM " + schema.table("delta_resource") + " WHERE kind = $1",
              std::string(kind))
        .one()
        .get<std::int64_t>(0);
  }
  return schema.pool()
      .exec("SELECT count(*) FROM " + schema.table("delta_resource") +
                " WHERE kind = $1 AND state::text = $2",
            std::string(kind), std::string(state))
      .one()
      .get<std::int64_t>(0);
}

// Makes the kind's retryable inform job due now (skips the retry backoff).
void retry_now(const ScratchSchema& schema, std::string_view kind) {
  schema.pool().exec("UPDATE " + schema.table("delta_job") +
                         " SET scheduled_at = now() WHERE kind = $1 AND state = 'retryable'",
                     job_kind(kind));
}

// Collects log lines of several clients (with the time since construction) to print when
// a timing-sensitive test fails.
class LogCapture {
 public:
  delta::Logger logger(std::string client) {
    return [this, client](delta::LogLevel level, std::string_view message) {
      if (level == delta::LogLevel::debug && message.find("informer") == std::string_view::npos)
        return;
      const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - begin_);
      std::lock_guard lock(mutex_);
      lines_.push_back("+" + std::to_string(at.count()) + " ms " + client + " " +
                       std::string(delta::to_string(level)) + ": " + std::string(message));
    };
  }
  std::string dump() {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& line : lines_)
      out += "  " + line + "\n";
    return out;
  }

 private:
  const std::chrono::steady_clock::time_point begin_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

// ---- objects with a created_at, listed in sequence ------------------------------------

#define DELTA_SEQ_OBJECT(Type, kind_name)                                          \
  struct Type {                                                                    \
    std::string key;                                                               \
    std::int64_t at = 0;                                                           \
    static constexpr std::string_view kind = kind_name;                            \
    std::string id() const { return key; }                                         \
    std::optional<delta::Timestamp> created_at() const {                           \
      return delta::Timestamp(std::chrono::microseconds(at));                      \
    }                                                                              \
    static delta::ObjectSettings settings() {                                      \
      return {.parallelism = 1, .inform_interval = std::chrono::milliseconds(-1)}; \
    }                                                                              \
  };                                                                               \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Type, key, at)

DELTA_SEQ_OBJECT(Bulk, "bulk")
DELTA_SEQ_OBJECT(Cursored, "cursored")
DELTA_SEQ_OBJECT(Unordered, "unordered")
DELTA_SEQ_OBJECT(Slow, "slow")

// Lists objects 1..total (created at kBaseUs + i s), ascending or descending, skipping
// those at or before `after`. On its first run only, throws after emitting `fail_after`
// objects, or hangs until the run's timeout after `hang_after` objects (0: never).
template <class T>
class SequenceController : public delta::Controller<T> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<T>&) override {
    ++worked;
    return delta::synced();
  }
  void inform(delta::InformContext& ctx, const delta::InformOptions& options,
              delta::InformSink<T>& out) override {
    {
      std::lock_guard lock(mutex);
      afters.push_back(options.after);
    }
    const bool first_run = ++runs == 1;  // failures are staged on the first run only
    const int n = total.load();
    const int fail = first_run ? fail_after.load() : 0;
    const int hang = first_run ? hang_after.load() : 0;
    int emitted = 0;
    for (int k = 1; k <= n; ++k) {
      const int i = descending ? n + 1 - k : k;
      T object{"o" + std::to_string(i), at_us(i)};
      if (options.after && *object.created_at() <= *options.after) continue;
      if (fail > 0 && emitted == fail) {
        throw std::runtime_error("upstream failed after " + std::to_string(fail) + " objects");
      }
      if (hang > 0 && emitted == hang) {  // a slow upstream: wait for the timeout
        const auto give_up = std::chrono::steady_clock::now() + 30s;
        while (!ctx.stop_requested() && std::chrono::steady_clock::now() < give_up)
          std::this_thread::sleep_for(5ms);
      }
      if (!out.emit(object)) return;
      ++emitted;
    }
  }
  std::vector<std::optional<delta::Timestamp>> seen_afters() {
    std::lock_guard lock(mutex);
    return afters;
  }

  std::atomic<int> total{0};
  std::atomic<int> fail_after{0};
  std::atomic<int> hang_after{0};
  std::atomic<bool> descending{false};
  std::atomic<int> runs{0};
  std::atomic<int> worked{0};

 private:
  std::mutex mutex;
  std::vector<std::optional<delta::Timestamp>> afters;
};

// 1. 50,000 objects are written in batches (not one statement per object), and a second
// run with `after` = the cursor gets only the newer objects.
TEST(informer_pgtest, FiftyThousandObjectsInFewStatementsThenOnlyNewer) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<SequenceController<Bulk>>();
  controller->total = 50000;
  auto config = test_config(schema.name());
  config.controllers.add(controller);  // no namespaces: inform-only, nothing is worked
  delta::Client client(delta::testing::make_pool(), config);
  client.start();

  const auto begin = std::chrono::steady_clock::now();
  client.schedule_inform({.kind = "bulk"});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "bulk", "completed") == 1; }, 120s))
      << "job states: " << inform_jobs(schema, "bulk") << " jobs, last run "
      << (client.last_inform_run("bulk") ? client.last_inform_run("bulk")->error : "none");
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - begin);
  std::cout << "[ informer ] 50000 objects written in " << elapsed.count() << " ms\n";
  ::testing::Test::RecordProperty("inform_50k_ms", static_cast<int>(elapsed.count()));

  auto run = client.last_inform_run("bulk");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->emitted, 50000u);
  EXPECT_EQ(run->inserted, 50000u);
  EXPECT_GE(run->batches, 1u);
  EXPECT_LE(run->batches, 60u) << "objects must be written in batches, not one by one";
  EXPECT_EQ(resources(schema, "bulk"), 50000);
  EXPECT_EQ(resources(schema, "bulk", "scheduled"), 50000);
  EXPECT_EQ(us(run->cursor), at_us(50000));
  EXPECT_EQ(us(stored_cursor(schema, "bulk")), at_us(50000));

  // An inform job is unique while pending or running: wait until the first is completed.
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "bulk", "completed") == 1; }, 10s));
  controller->total = 50700;
  client.schedule_inform({.kind = "bulk"});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "bulk", "completed") == 2; }, 60s));
  run = client.last_inform_run("bulk");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->emitted, 700u) << "the second run must only get objects after the cursor";
  EXPECT_EQ(run->inserted, 700u);
  EXPECT_EQ(run->unchanged, 0u);
  EXPECT_EQ(run->batches, 1u);
  auto afters = controller->seen_afters();
  ASSERT_EQ(afters.size(), 2u);
  EXPECT_FALSE(afters[0].has_value());
  EXPECT_EQ(us(afters[1]), at_us(50000));
  EXPECT_EQ(resources(schema, "bulk"), 50700);
  EXPECT_EQ(us(stored_cursor(schema, "bulk")), at_us(50700));
  client.stop();
}

// 2a. A run that fails half way (objects in created_at order) keeps what it wrote, moves
// the cursor to the newest written object and no further; the retry picks up the rest.
TEST(informer_pgtest, FailedRunKeepsWrittenObjectsAndCursorThenRetryResumes) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<SequenceController<Cursored>>();
  controller->total = 13300;
  controller->fail_after = 6000;  // not a multiple of the 2500-object batch
  auto config = test_config(schema.name());
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 8};
  delta::Client client(delta::testing::make_pool(), config);
  client.start();

  client.schedule_inform({.kind = "cursored"});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "cursored", "retryable") == 1; }, 30s));
  auto run = client.last_inform_run("cursored");
  ASSERT_TRUE(run.has_value());
  EXPECT_FALSE(run->succeeded);
  EXPECT_EQ(run->error, "upstream failed after 6000 objects");
  EXPECT_EQ(run->emitted, 6000u);
  EXPECT_EQ(run->inserted, 6000u);
  EXPECT_EQ(run->batches, 3u);
  EXPECT_EQ(us(run->cursor), at_us(6000));
  EXPECT_EQ(resources(schema, "cursored"), 6000) << "what was emitted before the throw is kept";
  EXPECT_EQ(us(stored_cursor(schema, "cursored")), at_us(6000))
      << "the cursor must be the newest written created_at, not beyond";

  retry_now(schema, "cursored");
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "cursored", "completed") == 1; }, 30s));
  run = client.last_inform_run("cursored");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->emitted, 7300u) << "the retry lists after the cursor: objects 6001..13300";
  EXPECT_EQ(run->inserted, 7300u);
  auto afters = controller->seen_afters();
  ASSERT_EQ(afters.size(), 2u);
  EXPECT_FALSE(afters[0].has_value());
  EXPECT_EQ(us(afters[1]), at_us(6000));
  EXPECT_EQ(resources(schema, "cursored"), 13300);
  EXPECT_EQ(us(stored_cursor(schema, "cursored")), at_us(13300));
  auto job = schema.pool()
                 .exec("SELECT attempt, (errors[1])->>'error' FROM " + schema.table("delta_job") +
                           " WHERE kind = $1",
                       job_kind("cursored"))
                 .one();
  EXPECT_EQ(job.get<std::int16_t>(0), 2);
  EXPECT_EQ(job.get<std::string>(1), "upstream failed after 6000 objects");
  ASSERT_TRUE(eventually([&] { return resources(schema, "cursored", "synced") == 13300; }, 60s));
  client.stop();
}

// 2b. A failed run whose objects were not in created_at order does not move the cursor
// at all (an older object may not have been listed yet).
TEST(informer_pgtest, FailedRunOutOfOrderLeavesCursor) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<SequenceController<Unordered>>();
  controller->total = 3000;
  controller->descending = true;  // newest first
  controller->fail_after = 1500;
  auto config = test_config(schema.name());
  config.controllers.add(controller);
  delta::Client client(delta::testing::make_pool(), config);
  client.start();

  client.schedule_inform({.kind = "unordered"});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "unordered", "retryable") == 1; }, 30s));
  auto run = client.last_inform_run("unordered");
  ASSERT_TRUE(run.has_value());
  EXPECT_FALSE(run->succeeded);
  EXPECT_EQ(run->emitted, 1500u);
  EXPECT_EQ(resources(schema, "unordered"), 1500);
  EXPECT_FALSE(stored_cursor(schema, "unordered").has_value())
      << "cursor moved to " << us(stored_cursor(schema, "unordered"))
      << " although objects 1..1500 were never written";
  EXPECT_FALSE(run->cursor.has_value());

  retry_now(schema, "unordered");
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "unordered", "completed") == 1; }, 30s));
  run = client.last_inform_run("unordered");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  auto afters = controller->seen_afters();
  ASSERT_EQ(afters.size(), 2u);
  EXPECT_FALSE(afters[1].has_value()) << "the retry must list from the beginning";
  EXPECT_EQ(run->emitted, 3000u);
  EXPECT_EQ(run->inserted, 1500u);
  EXPECT_EQ(run->unchanged, 1500u);
  EXPECT_EQ(resources(schema, "unordered"), 3000);
  EXPECT_EQ(us(stored_cursor(schema, "unordered")), at_us(3000));
  client.stop();
}

// 2c. A run that times out keeps what it wrote and moves the cursor to the newest written
// object; the job is retried.
class SlowController : public SequenceController<Slow> {
 public:
  std::chrono::milliseconds inform_timeout() const override { return 1500ms; }
};

TEST(informer_pgtest, TimedOutRunKeepsWrittenObjectsAndCursor) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<SlowController>();
  controller->total = 4000;
  controller->hang_after = 1700;
  auto config = test_config(schema.name());
  config.controllers.add(controller);
  delta::Client client(delta::testing::make_pool(), config);
  client.start();

  client.schedule_inform({.kind = "slow"});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "slow", "retryable") == 1; }, 30s));
  auto run = client.last_inform_run("slow");
  ASSERT_TRUE(run.has_value());
  EXPECT_FALSE(run->succeeded);
  EXPECT_NE(run->error.find("stopped"), std::string::npos) << run->error;
  // 1700 unless the machine is so slow that the timeout hit before the informer hung.
  const int first = static_cast<int>(run->emitted);
  EXPECT_LE(first, 1700) << "emit must refuse objects once the run timed out";
  EXPECT_GT(first, 0);
  EXPECT_EQ(resources(schema, "slow"), first);
  EXPECT_EQ(us(stored_cursor(schema, "slow")), at_us(first));
  auto job = schema.pool()
                 .exec("SELECT (errors[1])->>'type', (errors[1])->>'error' FROM " +
                           schema.table("delta_job") + " WHERE kind = $1",
                       job_kind("slow"))
                 .one();
  EXPECT_EQ(job.get<std::string>(0), "timeout") << job.get<std::string>(1);

  retry_now(schema, "slow");
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "slow", "completed") == 1; }, 30s));
  run = client.last_inform_run("slow");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->emitted, static_cast<std::size_t>(4000 - first));
  EXPECT_EQ(resources(schema, "slow"), 4000);
  EXPECT_EQ(us(stored_cursor(schema, "slow")), at_us(4000));
  client.stop();
}

// ---- objects without created_at --------------------------------------------------------

DELTA_KEYED_VALUE_OBJECT(Plain, "plain", 4)

// Lists `count` fixed objects (no created_at), whatever `after` says.
class PlainController : public delta::Controller<Plain> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Plain>&) override {
    ++worked;
    return delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions& options,
              delta::InformSink<Plain>& out) override {
    {
      std::lock_guard lock(mutex);
      afters.push_back(options.after);
      process_existing.push_back(options.process_existing);
    }
    ++runs;
    for (int i = 0; i < count; ++i) {
      if (!out.emit(Plain{"p" + std::to_string(i), i})) return;
    }
  }
  std::vector<std::optional<delta::Timestamp>> seen_afters() {
    std::lock_guard lock(mutex);
    return afters;
  }
  std::vector<bool> seen_process_existing() {
    std::lock_guard lock(mutex);
    return process_existing;
  }
  std::atomic<int> count{10};
  std::atomic<int> runs{0};
  std::atomic<int> worked{0};

 private:
  std::mutex mutex;
  std::vector<std::optional<delta::Timestamp>> afters;
  std::vector<bool> process_existing;
};

// 2d. Objects without created_at: the cursor becomes (about) the run's start time.
TEST(informer_pgtest, ObjectsWithoutCreatedAtMoveCursorToRunStart) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<PlainController>();
  auto config = test_config(schema.name());
  config.controllers.add(controller);
  delta::Client client(delta::testing::make_pool(), config);
  client.start();

  const auto before = schema.pool().exec("SELECT now()").one().get<delta::Timestamp>(0);
  client.schedule_inform({.kind = "plain"});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "plain", "completed") == 1; }, 30s));
  const auto after = schema.pool().exec("SELECT now()").one().get<delta::Timestamp>(0);
  auto run = client.last_inform_run("plain");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->inserted, 10u);
  const auto cursor = stored_cursor(schema, "plain");
  ASSERT_TRUE(cursor.has_value()) << "objects without created_at must set the cursor";
  EXPECT_GE(us(cursor), us(before) - 1'000'000);
  EXPECT_LE(us(cursor), us(after) + 1'000'000);
  EXPECT_LE(std::abs(us(cursor) - us(run->started_at)), 1'000'000)
      << "the cursor should be the run's start time";
  EXPECT_LE(us(cursor), us(run->finished_at));

  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "plain", "completed") == 1; }, 10s));
  client.schedule_inform({.kind = "plain"});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "plain", "completed") == 2; }, 30s));
  auto afters = controller->seen_afters();
  ASSERT_EQ(afters.size(), 2u);
  EXPECT_FALSE(afters[0].has_value());
  EXPECT_EQ(us(afters[1]), us(cursor));
  EXPECT_GT(us(stored_cursor(schema, "plain")), us(cursor)) << "each run moves it to its start";
  client.stop();
}

// ---- the scheduler ---------------------------------------------------------------------

struct Tick {
  std::string key;
  static constexpr std::string_view kind = "tick";
  std::string id() const { return key; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Tick, key)

DELTA_KEYED_OBJECT(Bystander, "bystander", 1)

template <class T>
class CountingController : public delta::Controller<T> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<T>&) override {
    ++worked;
    return delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions&, delta::InformSink<T>&) override {
    std::lock_guard lock(mutex);
    run_times.push_back(std::chrono::steady_clock::now());
    ++runs;
  }
  std::vector<std::chrono::steady_clock::time_point> times() {
    std::lock_guard lock(mutex);
    return run_times;
  }
  std::atomic<int> runs{0};
  std::atomic<int> worked{0};

 private:
  std::mutex mutex;
  std::vector<std::chrono::steady_clock::time_point> run_times;
};

// 3a. Three processes with the same controller: one run per interval in all, not one per
// process; runs happen only on processes that have the controller; no jitter -> no delay.
//
// The interval is measured in the database (from the start of the last run), so two runs'
// fetch times (delta_job.attempted_at) are at least the interval apart whatever the load
// of the machine: run k+1's job is inserted no earlier than run k started + interval, and
// run k was fetched before it started.
TEST(informer_pgtest, SchedulerRunsOncePerIntervalAcrossProcesses) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  LogCapture log;  // outlives the clients that log into it
  std::vector<std::shared_ptr<CountingController<Tick>>> controllers;
  std::vector<std::unique_ptr<delta::Client>> clients;
  std::set<std::string> with_controller;
  for (int i = 0; i < 3; ++i) {
    auto controller = std::make_shared<CountingController<Tick>>();
    auto config = test_config(schema.name());
    config.id = "tick-" + std::to_string(i);
    config.logger = log.logger(config.id);
    config.inform_interval = 1s;
    config.inform_jitter = 0ms;
    config.controllers.add(controller);
    config.namespaces["default"] = {.max_workers = 2};
    controllers.push_back(controller);
    clients.push_back(std::make_unique<delta::Client>(delta::testing::make_pool(), config));
    with_controller.insert(config.id);
  }
  // A fourth process without the tick controller must never run a tick inform job.
  {
    auto config = test_config(schema.name());
    config.id = "bystander";
    config.logger = log.logger(config.id);
    config.inform_interval = 1s;
    config.controllers.add(std::make_shared<CountingController<Bystander>>());
    config.namespaces["default"] = {.max_workers = 2};
    clients.push_back(std::make_unique<delta::Client>(delta::testing::make_pool(), config));
  }
  for (auto& client : clients) {
    client->start();
    log.logger("test")(delta::LogLevel::info, "started " + client->id());
  }
  auto total_runs = [&] {
    int n = 0;
    for (auto& controller : controllers)
      n += controller->runs.load();
    return n;
  };
  // Four runs: three intervals (about 3-3.5 s on an idle machine).
  const bool four = eventually([&] { return total_runs() >= 4; }, 30s);
  std::vector<std::chrono::steady_clock::time_point> starts;
  for (auto& controller : controllers) {
    auto more = controller->times();
    starts.insert(starts.end(), more.begin(), more.end());
  }
  std::sort(starts.begin(), starts.end());
  for (auto& client : clients)
    client->stop();
  const int runs = total_runs();
  ASSERT_TRUE(four) << "only " << runs << " runs in 30 s with a 1 s interval; log:\n" << log.dump();
  const auto in_window = std::count_if(starts.begin(), starts.end(),
                                       [&](auto t) { return t - starts.front() <= 3500ms; });
  std::cout << "[ scheduler ] 1 s interval, 3 processes: " << in_window
            << " runs in the 3.5 s after the first, " << runs << " in all (per process:";
  for (auto& controller : controllers)
    std::cout << ' ' << controller->runs.load();
  std::cout << ")\n";
  EXPECT_LE(in_window, 4) << "one run per interval, not one per process; log:\n" << log.dump();

  // Every run is one attempt of an inform job (a job rescued from a client that stopped
  // heartbeating on an overloaded machine runs again as attempt 2).
  const auto attempts = schema.pool()
                            .exec("SELECT coalesce(sum(attempt), 0)::bigint FROM " +
                                      schema.table("delta_job") + " WHERE kind = $1",
                                  job_kind("tick"))
                            .one()
                            .get<std::int64_t>(0);
  EXPECT_EQ(attempts, runs) << "one job attempt per run";
  auto result = schema.pool().exec(
      "SELECT attempted_by, extract(epoch FROM scheduled_at - created_at) * 1000, "
      "extract(epoch FROM attempted_at - lag(attempted_at) OVER (ORDER BY attempted_at)) * 1000, "
      "extract(epoch FROM attempted_at - min(attempted_at) OVER ()) * 1000 FROM " +
          schema.table("delta_job") +
          " WHERE kind = $1 AND state = 'completed' ORDER BY attempted_at",
      job_kind("tick"));
  double longest_gap = 0;
  for (auto row : result) {
    const auto by = row.get<std::optional<std::string>>(0);
    const auto gap = row.get<std::optional<double>>(2);
    std::cout << "[ scheduler ]   run at +" << row.get<double>(3) << " ms by " << by.value_or("-")
              << "\n";
    EXPECT_TRUE(by && with_controller.contains(*by))
        << "a tick inform job ran on " << by.value_or("(nobody)");
    EXPECT_LT(row.get<double>(1), 50.0) << "no jitter configured, but the job was delayed";
    if (gap) {
      EXPECT_GE(*gap, 999.0) << "two runs less than the 1 s interval apart; log:\n" << log.dump();
      longest_gap = std::max(longest_gap, *gap);
    }
  }
  if (longest_gap > 2500.0) {  // late runs are not the subject here, but show why
    std::cout << "[ scheduler ] a run came " << longest_gap << " ms after the previous one; log:\n"
              << log.dump();
  }
}

// Five kinds for the jitter test (one inform job each).
constexpr std::string_view kJitterKinds[] = {"jit-a", "jit-b", "jit-c", "jit-d", "jit-e"};

template <int N>
struct Jit {
  std::string key;
  static constexpr std::string_view kind = kJitterKinds[N];
  std::string id() const { return key; }
};
template <int N>
void to_json(nlohmann::json& json, const Jit<N>& object) {
  json = nlohmann::json{{"key", object.key}};
}
template <int N>
void from_json(const nlohmann::json& json, Jit<N>& object) {
  json.at("key").get_to(object.key);
}

// 3b. Jitter: scheduled runs are delayed by a random amount within inform_jitter.
TEST(informer_pgtest, JitterSpreadsScheduledRuns) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  auto config = test_config(schema.name());
  config.inform_interval = 60s;  // each kind runs once during the test
  config.inform_jitter = 2000ms;
  auto c0 = std::make_shared<CountingController<Jit<0>>>();
  auto c1 = std::make_shared<CountingController<Jit<1>>>();
  auto c2 = std::make_shared<CountingController<Jit<2>>>();
  auto c3 = std::make_shared<CountingController<Jit<3>>>();
  auto c4 = std::make_shared<CountingController<Jit<4>>>();
  config.controllers.add(c0).add(c1).add(c2).add(c3).add(c4);
  delta::Client client(delta::testing::make_pool(), config);
  client.start();
  ASSERT_TRUE(eventually(
      [&] {
        return c0->runs == 1 && c1->runs == 1 && c2->runs == 1 && c3->runs == 1 && c4->runs == 1;
      },
      15s));
  auto result = schema.pool().exec(
      "SELECT kind, extract(epoch FROM scheduled_at - created_at) * 1000, "
      "extract(epoch FROM attempted_at - scheduled_at) * 1000 FROM " +
      schema.table("delta_job") + " WHERE kind LIKE 'delta.inform:jit-%' ORDER BY kind");
  ASSERT_EQ(result.size(), 5u);
  double lowest = 1e9, highest = -1e9;
  for (auto row : result) {
    const auto delay = row.get<double>(1);
    std::cout << "[ jitter ] " << row.get<std::string>(0) << " delayed " << delay << " ms\n";
    EXPECT_GE(delay, -500.0);  // the insert's now() is a little after the delay was drawn
    EXPECT_LE(delay, 2000.0 + 50.0) << "delay beyond inform_jitter";
    EXPECT_GE(row.get<double>(2), -20.0) << "the run started before its scheduled time";
    lowest = std::min(lowest, delay);
    highest = std::max(highest, delay);
  }
  EXPECT_GT(highest - lowest, 100.0) << "five random delays in 0..2000 ms all (nearly) equal";
  client.stop();
}

// Kinds for the disabled-interval test.
struct On {
  std::string key;
  static constexpr std::string_view kind = "on";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() {
    return {.parallelism = 1, .inform_interval = std::chrono::milliseconds(300)};
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(On, key)
DELTA_KEYED_OBJECT(Off, "off", 1)  // inform_interval -1 ms: never periodically
struct Default {                   // no settings: Config::inform_interval, negative here
  std::string key;
  static constexpr std::string_view kind = "dflt";
  std::string id() const { return key; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Default, key)

// 3c. A negative interval (per kind, or Config's) never runs periodically, while another
// kind keeps running; a hand-triggered run still works.
TEST(informer_pgtest, DisabledIntervalNeverRuns) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  auto on = std::make_shared<CountingController<On>>();
  auto off = std::make_shared<CountingController<Off>>();
  auto dflt = std::make_shared<CountingController<Default>>();
  auto config = test_config(schema.name());
  config.inform_interval = -1ms;
  config.controllers.add(on).add(off).add(dflt);
  LogCapture log;
  config.logger = log.logger("client");
  delta::Client client(delta::testing::make_pool(), config);
  const auto begin = std::chrono::steady_clock::now();
  client.start();
  ASSERT_TRUE(eventually([&] { return on->runs >= 3; }, 30s)) << log.dump();
  const auto three = std::chrono::steady_clock::now() - begin;
  if (three > 3s) {  // expected ~1 s: show why it took longer
    std::cout << "[ disabled ] three runs of a 300 ms informer took "
              << std::chrono::duration_cast<std::chrono::milliseconds>(three).count()
              << " ms; log:\n"
              << log.dump();
  }
  // While "on" keeps running, the others never do.
  EXPECT_TRUE(consistently(
      [&] {
        return off->runs == 0 && dflt->runs == 0 && inform_jobs(schema, "off") == 0 &&
               inform_jobs(schema, "dflt") == 0;
      },
      500ms));
  EXPECT_EQ(schema.count("delta_controller WHERE kind IN ('off', 'dflt') AND inform_interval IS "
                         "NULL"),
            2);
  client.schedule_inform({.kind = "off"});
  EXPECT_TRUE(eventually([&] { return off->runs == 1; }, 10s));
  client.stop();
}

// 3d. schedule_inform runs at once; without process_existing unchanged objects are not
// worked again, with it they are (and the cursor is ignored).
TEST(informer_pgtest, ScheduleInformRunsAtOnceAndProcessExistingReworks) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<PlainController>();
  controller->count = 20;
  auto config = test_config(schema.name());
  config.inform_jitter = 60s;  // a hand-triggered run must not wait for jitter
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 4};
  delta::Client client(delta::testing::make_pool(), config);
  client.start();

  auto begin = std::chrono::steady_clock::now();
  auto inserted = client.schedule_inform({.kind = "plain"});
  EXPECT_FALSE(inserted.unique_skipped_as_duplicate);
  ASSERT_TRUE(eventually([&] { return controller->runs == 1; }, 5s));
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - begin);
  std::cout << "[ schedule_inform ] first run started after " << latency.count() << " ms\n";
  ASSERT_TRUE(eventually([&] { return resources(schema, "plain", "synced") == 20; }, 20s));
  EXPECT_EQ(controller->worked, 20);

  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "plain", "completed") == 1; }, 10s));
  client.schedule_inform({.kind = "plain"});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "plain", "completed") == 2; }, 10s));
  auto run = client.last_inform_run("plain");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->unchanged, 20u);
  EXPECT_EQ(run->changed, 0u);
  EXPECT_TRUE(consistently([&] { return controller->worked == 20; }, 300ms))
      << "unchanged objects were worked again";

  client.schedule_inform({.kind = "plain", .process_existing = true});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "plain", "completed") == 3; }, 10s));
  run = client.last_inform_run("plain");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->changed, 20u) << "process_existing forces every listed object";
  ASSERT_TRUE(eventually([&] { return controller->worked == 40; }, 20s))
      << "worked " << controller->worked;
  ASSERT_TRUE(eventually([&] { return resources(schema, "plain", "synced") == 20; }, 20s));
  auto afters = controller->seen_afters();
  auto process_existing = controller->seen_process_existing();
  ASSERT_EQ(afters.size(), 3u);
  EXPECT_TRUE(afters[1].has_value()) << "a plain run gets the cursor";
  EXPECT_FALSE(afters[2].has_value()) << "process_existing must ignore the cursor";
  EXPECT_FALSE(process_existing[1]);
  EXPECT_TRUE(process_existing[2]);
  client.stop();
}

// ---- deleted resources -----------------------------------------------------------------

DELTA_KEYED_VALUE_OBJECT(Gone, "gone", 2)

// Work removes value 1; the informer lists `listed`.
class GoneController : public delta::Controller<Gone> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Gone>& r) override {
    ++worked;
    if (r.object.value == 1) return delta::remove("gone upstream");
    return delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions&,
              delta::InformSink<Gone>& out) override {
    out.emit(Gone{"x", listed.load()});
  }
  std::atomic<int> listed{1};
  std::atomic<int> worked{0};
};

// 4. An informer does not resurrect a deleted resource (even with new content); an
// explicit inform does.
TEST(informer_pgtest, InformersDoNotResurrectDeletedResources) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<GoneController>();
  auto config = test_config(schema.name());
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 2};
  delta::Client client(delta::testing::make_pool(), config);
  client.start();

  client.schedule_inform({.kind = "gone"});
  ASSERT_TRUE(eventually([&] { return resources(schema, "gone", "deleted") == 1; }, 10s));
  EXPECT_EQ(controller->worked, 1);
  // An inform job is unique while pending or running: wait until the first is completed.
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "gone", "completed") == 1; }, 10s));

  controller->listed = 2;  // new content
  EXPECT_FALSE(client.schedule_inform({.kind = "gone"}).unique_skipped_as_duplicate);
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "gone", "completed") == 2; }, 10s));
  auto run = client.last_inform_run("gone");
  ASSERT_TRUE(run.has_value());
  EXPECT_TRUE(run->succeeded) << run->error;
  EXPECT_EQ(run->skipped_deleted, 1u);
  EXPECT_EQ(run->changed, 0u);
  EXPECT_TRUE(consistently(
      [&] {
        auto row = client.get_resource("gone", "x");
        return row.state == delta::ResourceState::deleted && row.object["value"] == 1 &&
               controller->worked == 1;
      },
      300ms))
      << "the informer overwrote a deleted resource";

  controller->listed = 1;  // same content as stored
  client.schedule_inform({.kind = "gone"});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "gone", "completed") == 3; }, 10s));
  run = client.last_inform_run("gone");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->skipped_deleted, 1u);
  EXPECT_EQ(client.get_resource("gone", "x").state, delta::ResourceState::deleted);

  auto explicit_inform = client.inform(Gone{"x", 2});
  EXPECT_EQ(explicit_inform.status, delta::InformStatus::changed);
  EXPECT_EQ(explicit_inform.resource.state, delta::ResourceState::scheduled);
  ASSERT_TRUE(eventually([&] { return resources(schema, "gone", "synced") == 1; }, 10s));
  EXPECT_EQ(controller->worked, 2);
  client.stop();
}

// ---- bad input ---------------------------------------------------------------------------

DELTA_KEYED_OBJECT(Boom, "boom", 1)

class BoomController : public delta::Controller<Boom> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Boom>&) override {
    return delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions&,
              delta::InformSink<Boom>&) override {
    ++runs;
    throw std::runtime_error("upstream answered 503");
  }
  std::atomic<int> runs{0};
};

// 8. schedule_inform of an unknown or invalid kind is refused before anything is written;
// an informer that throws is recorded as failed with its message and retried.
TEST(informer_pgtest, UnknownKindRefusedAndThrowingInformerRecorded) {
  ScratchSchema schema("inf", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<BoomController>();
  auto config = test_config(schema.name());
  config.controllers.add(controller);
  delta::Client client(delta::testing::make_pool(), config);
  client.start();

  EXPECT_THROW(client.schedule_inform({.kind = "nosuch"}), delta::ValidationError);
  EXPECT_THROW(client.schedule_inform({.kind = "Not A Kind!"}), delta::ValidationError);
  EXPECT_THROW(client.schedule_inform({.kind = ""}), delta::ValidationError);
  try {
    client.schedule_inform({.kind = "nosuch"});
  } catch (const delta::ValidationError& e) {
    EXPECT_EQ(e.field(), "kind");
  }
  EXPECT_EQ(schema.count("delta_job"), 0) << "a refused schedule_inform wrote a job";
  EXPECT_FALSE(client.last_inform_run("nosuch").has_value());

  client.schedule_inform({.kind = "boom"});
  ASSERT_TRUE(eventually([&] { return inform_jobs(schema, "boom", "retryable") == 1; }, 10s));
  auto run = client.last_inform_run("boom");
  ASSERT_TRUE(run.has_value());
  EXPECT_FALSE(run->succeeded);
  EXPECT_EQ(run->error, "upstream answered 503");
  EXPECT_FALSE(run->cursor.has_value());
  auto controller_row = schema.pool()
                            .exec("SELECT last_inform_error, last_inform_time FROM " +
                                  schema.table("delta_controller") + " WHERE kind = 'boom'")
                            .one();
  EXPECT_EQ(controller_row.get<std::optional<std::string>>(0).value_or("(null)"),
            "upstream answered 503");
  EXPECT_FALSE(controller_row.get<std::optional<delta::Timestamp>>(1).has_value());
  auto job = schema.pool()
                 .exec(
                     "SELECT attempt, max_attempts, queue, (errors[1])->>'error', "
                     "scheduled_at > now() FROM " +
                     schema.table("delta_job") + " WHERE kind = 'delta.inform:boom'")
                 .one();
  EXPECT_EQ(job.get<std::int16_t>(0), 1);
  EXPECT_GT(job.get<std::int16_t>(1), 1);
  EXPECT_EQ(job.get<std::string>(2), "delta_informers");
  EXPECT_EQ(job.get<std::string>(3), "upstream answered 503");
  EXPECT_TRUE(job.get<bool>(4)) << "a retryable job waits for its backoff";

  // The retry runs again (and fails again).
  retry_now(schema, "boom");
  ASSERT_TRUE(eventually([&] { return controller->runs >= 2; }, 10s));
  ASSERT_TRUE(eventually(
      [&] {
        return schema.pool()
                   .exec("SELECT attempt FROM " + schema.table("delta_job") +
                         " WHERE kind = 'delta.inform:boom' AND state = 'retryable' AND "
                         "attempt = 2")
                   .size() == 1;
      },
      10s));
  client.stop();
}

}  // namespace
