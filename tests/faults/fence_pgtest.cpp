// Self-fencing against a live PostgreSQL: a client whose heartbeat cannot be recorded (its
// role refused logins, its connections terminated) stops what it runs before the leader
// may rescue it, so the rescued copy never overlaps the original in what delta controls;
// the late original's outcome is refused; the client works again once it is let back in.
// A worker process frozen (SIGSTOP) past its TTL stops its work the moment it runs again.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <signal.h>

#include <delta/delta.hpp>

#include "support/intervals.hpp"
#include "support/maintenance_config.hpp"
#include "support/metric_value.hpp"
#include "support/pg_test.hpp"
#include "support/processes.hpp"
#include "support/role.hpp"
#include "support/worker_kinds.hpp"

namespace {

using delta::testing::eventually;
using delta::testing::metric_value;
using delta::testing::ScratchSchema;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// When each client worked what, in this process's steady time.
struct Interval {
  std::string client;
  std::string what;
  Clock::time_point start;
  std::optional<Clock::time_point> end{};
  bool stopped = false;  // it saw its stop token
};

class Intervals {
 public:
  std::size_t begin(const std::string& client, const std::string& what) {
    std::lock_guard lock(mutex_);
    all_.push_back({client, what, Clock::now()});
    return all_.size() - 1;
  }
  void end(std::size_t index, bool stopped) {
    std::lock_guard lock(mutex_);
    all_[index].end = Clock::now();
    all_[index].stopped = stopped;
  }
  std::vector<Interval> of(const std::string& what) const {
    std::lock_guard lock(mutex_);
    std::vector<Interval> found;
    for (const auto& interval : all_) {
      if (interval.what == what) found.push_back(interval);
    }
    return found;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Interval> all_;
};

struct Item {
  std::string key;
  static constexpr std::string_view kind = "fenced_item";
  std::string id() const { return key; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key)

struct Hold {
  std::string key;
  static constexpr std::string_view kind = "fenced_hold";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Hold, key)

// Waits for the stop token, at most 20 s.
bool hold(const delta::detail::RunContext& ctx) {
  const auto until = Clock::now() + 20s;
  while (!ctx.stop_requested() && Clock::now() < until)
    std::this_thread::sleep_for(2ms);
  return ctx.stop_requested();
}

// The victim holds "held" until stopped and then claims it gone (an outcome that must be
// refused: the resource was rescued meanwhile); the other client syncs everything.
class ItemController : public delta::Controller<Item> {
 public:
  ItemController(std::string client, Intervals& intervals, bool victim)
      : client_(std::move(client)), intervals_(intervals), victim_(victim) {}
  delta::WorkResult work(delta::WorkContext& ctx, const delta::Resource<Item>& item) override {
    const auto index = intervals_.begin(client_, item.object.key);
    if (victim_ && item.object.key == "held") {
      intervals_.end(index, hold(ctx));
      return delta::remove("the late original");
    }
    intervals_.end(index, false);
    return delta::synced();
  }

 private:
  std::string client_;
  Intervals& intervals_;
  bool victim_;
};

class HoldWorker : public delta::jobs::Worker<Hold> {
 public:
  HoldWorker(std::string client, Intervals& intervals, bool victim)
      : client_(std::move(client)), intervals_(intervals), victim_(victim) {}
  delta::jobs::JobResult work(delta::jobs::JobContext& ctx,
                              const delta::jobs::Job<Hold>& job) override {
    const auto index = intervals_.begin(client_, "job:" + job.args.key);
    if (victim_) {
      intervals_.end(index, hold(ctx));
      return delta::jobs::cancel("the late original");
    }
    intervals_.end(index, false);
    return delta::jobs::complete();
  }

 private:
  std::string client_;
  Intervals& intervals_;
  bool victim_;
};

delta::Config client_config(const std::string& schema, const std::string& id, Intervals& intervals,
                            bool victim) {
  auto config = delta::testing::maintenance_config(schema);
  config.id = id;
  config.controllers.add(std::make_shared<ItemController>(id, intervals, victim));
  config.namespaces["default"] = {.max_workers = 2};
  config.workers.add(std::make_shared<HoldWorker>(id, intervals, victim));
  config.queues["default"] = {.max_workers = 2};
  return config;
}

TEST(fence_pgtest, AClientCutOffFromTheDatabaseStopsItsWorkBeforeItIsRescued) {
  ScratchSchema schema("fence", delta::testing::SchemaStart::migrated);
  delta::testing::Role role(schema.pool(), "delta_fence");
  Intervals intervals;

  // The leader: informs and rescues, works nothing.
  auto leader_config = delta::testing::maintenance_config(schema.name());
  leader_config.id = "leader";
  leader_config.controllers.add(std::make_shared<ItemController>("leader", intervals, false));
  delta::Client leader(schema.shared_pool(), leader_config);
  leader.start();
  ASSERT_TRUE(eventually([&] { return leader.is_leader(); }));

  // The victim logs in as the role; what it logs is kept.
  std::mutex logged_mutex;
  std::vector<std::string> logged;
  auto victim_config = client_config(schema.name(), "victim", intervals, true);
  victim_config.namespaces["solo"] = {.max_workers = 1};
  victim_config.logger = delta::Logger([&](const delta::LogRecord& record) {
    std::lock_guard lock(logged_mutex);
    logged.emplace_back(record.message);
  });
  delta::Client victim(
      delta::pg::Pool::create(role.url(), {.max_connections = 8, .connect_timeout = 2s}),
      victim_config);
  victim.start();

  leader.inform(Item{"held"});
  leader.jobs().insert(Hold{"held"});
  ASSERT_TRUE(eventually(
      [&] { return intervals.of("held").size() == 1 && intervals.of("job:held").size() == 1; }));
  // The other worker starts once the victim holds both.
  delta::Client other(schema.shared_pool(),
                      client_config(schema.name(), "other", intervals, false));
  other.start();

  const auto cut = Clock::now();
  role.refuse();
  ASSERT_TRUE(eventually(
      [&] { return intervals.of("held").size() == 2 && intervals.of("job:held").size() == 2; },
      20s))
      << "the other client never got the rescued work";
  const auto fenced_metrics = victim.metrics();
  EXPECT_EQ(metric_value(fenced_metrics, "delta_fenced"), 1);
  EXPECT_EQ(metric_value(fenced_metrics, "delta_fence_episodes_total"), 1);

  for (const std::string what : {"held", "job:held"}) {
    const auto worked = intervals.of(what);
    ASSERT_EQ(worked.size(), 2U) << what;
    const auto& original = worked[0];
    const auto& rescued = worked[1];
    EXPECT_EQ(original.client, "victim") << what;
    EXPECT_EQ(rescued.client, "other") << what;
    ASSERT_TRUE(original.end.has_value()) << what << ": the original never stopped";
    EXPECT_TRUE(original.stopped) << what << ": the original ran out its 20 s, not stopped";
    // The heart of it: the original had ended before the rescued copy began.
    EXPECT_LT(*original.end, rescued.start) << what;
    // ...and it was stopped by the fence, no sooner than the horizon after the last
    // heartbeat (which came at most a heartbeat interval before the cut).
    const auto stopped_after =
        std::chrono::duration_cast<std::chrono::milliseconds>(*original.end - cut);
    EXPECT_GT(stopped_after.count(), 1600 - 500 - 50) << what;
  }

  // Let it back in: it is no longer fenced, its late outcomes were refused, and it works.
  role.allow();
  ASSERT_TRUE(eventually([&] { return metric_value(victim.metrics(), "delta_fenced") == 0; }, 10s));
  ASSERT_TRUE(eventually([&] {
    return schema.count("delta_resource WHERE object_id = 'held' AND state = 'synced'") == 1 &&
           schema.count("delta_job WHERE kind = 'fenced_hold' AND state = 'completed'") == 1;
  }));
  victim.inform(Item{"after"}, {.namespace_name = "solo"});
  ASSERT_TRUE(eventually([&] {
    return schema.count("delta_resource WHERE object_id = 'after' AND state = 'synced'") == 1;
  }));
  EXPECT_EQ(intervals.of("after").at(0).client, "victim");
  // The late originals (remove, cancel) never landed: consistently synced / completed.
  EXPECT_TRUE(delta::testing::consistently(
      [&] {
        return schema.count("delta_resource WHERE object_id = 'held' AND state = 'synced'") == 1 &&
               schema.count("delta_job WHERE kind = 'fenced_hold' AND state = 'completed'") == 1;
      },
      300ms));
  EXPECT_EQ(schema.count("delta_resource WHERE object_id = 'held' AND attempt = 2"), 1);

  other.stop(5s);
  victim.stop(5s);
  leader.stop(5s);
  std::lock_guard lock(logged_mutex);
  bool fenced_logged = false, back_logged = false;
  for (const auto& line : logged) {
    fenced_logged = fenced_logged || line.find("fenced") != std::string::npos;
    back_logged = back_logged || line.find("works again") != std::string::npos;
  }
  EXPECT_TRUE(fenced_logged);
  EXPECT_TRUE(back_logged);
}

// Syncs delta::testing::Item resources, recording when each work started.
class StartRecorder : public delta::Controller<delta::testing::Item> {
 public:
  delta::WorkResult work(delta::WorkContext&,
                         const delta::Resource<delta::testing::Item>& item) override {
    std::lock_guard lock(mutex_);
    started_[item.object.key] = delta::testing::realtime_ns();
    return delta::synced();
  }
  std::optional<std::int64_t> started(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = started_.find(key);
    if (it == started_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t> started_;
};

TEST(fence_pgtest, AFrozenProcessStopsItsWorkTheMomentItRunsAgain) {
  ScratchSchema schema("fence_frozen", delta::testing::SchemaStart::migrated);
  const std::string dir = ::testing::TempDir();
  const std::string finished_log = dir + "/fence_frozen_" + schema.name() + ".log";
  const std::string interrupted_log = dir + "/fence_frozen_" + schema.name() + ".interrupted";

  // The leader rescues with the worker's TTL (1 s, heartbeats every 200 ms).
  auto leader_config = delta::testing::maintenance_config(schema.name());
  leader_config.id = "leader";
  leader_config.heartbeat_interval = 200ms;
  leader_config.client_ttl = 1s;
  delta::Client leader(schema.shared_pool(), leader_config);
  leader.start();
  ASSERT_TRUE(eventually([&] { return leader.is_leader(); }));

  delta::testing::WorkerProcess frozen(
      DELTA_RESOURCE_WORKER_PROC, "frozen",
      {"--schema", schema.name(), "--work-ms", "4000", "--parallelism", "1", "--max-workers", "1",
       "--log", finished_log, "--interrupted-log", interrupted_log, "--announce-starts"});
  ASSERT_TRUE(frozen.wait_for_line("ready", 20s));
  leader.inform(delta::testing::Item{"x", 1});
  ASSERT_TRUE(frozen.wait_for_line("started x", 20s));  // frozen in the middle of its work

  ASSERT_EQ(::kill(static_cast<pid_t>(frozen.pid()), SIGSTOP), 0);
  // Another client takes the work over once the frozen one's heartbeat is stale.
  auto other_config = delta::testing::maintenance_config(schema.name());
  other_config.id = "other";
  auto recorder = std::make_shared<StartRecorder>();
  other_config.controllers.add(recorder);
  other_config.namespaces["default"] = {.max_workers = 1};
  delta::Client other(schema.shared_pool(), other_config);
  other.start();
  ASSERT_TRUE(eventually([&] { return recorder->started("x").has_value(); }, 20s));
  ASSERT_TRUE(eventually([&] {
    return schema.count("delta_resource WHERE object_id = 'x' AND state = 'synced'") == 1;
  }));

  const std::int64_t continued_ns = delta::testing::realtime_ns();
  ASSERT_EQ(::kill(static_cast<pid_t>(frozen.pid()), SIGCONT), 0);
  // Running again, it is fenced at once: its work sees the stop token (and is recorded
  // as interrupted) instead of sleeping out its remaining seconds and finishing.
  std::vector<delta::testing::WorkRecord> interrupted;
  ASSERT_TRUE(eventually(
      [&] {
        interrupted.clear();
        delta::testing::read_work_log(interrupted_log, interrupted);
        return !interrupted.empty();
      },
      10s))
      << "the frozen process's work was not interrupted when it ran again";
  ASSERT_EQ(interrupted.size(), 1U);
  EXPECT_EQ(interrupted[0].object_id, "x");
  const auto stopped_after_ms = (interrupted[0].end_ns - continued_ns) / 1'000'000;
  EXPECT_LT(stopped_after_ms, 1000) << "the work ran on " << stopped_after_ms << " ms";
  std::vector<delta::testing::WorkRecord> finished;
  delta::testing::read_work_log(finished_log, finished);
  EXPECT_TRUE(finished.empty()) << delta::testing::describe(finished);
  // Its late outcome (a retry) is refused: the rescued copy's sync stands.
  EXPECT_TRUE(delta::testing::consistently(
      [&] {
        return schema.count(
                   "delta_resource WHERE object_id = 'x' AND state = 'synced' AND "
                   "attempt = 2") == 1;
      },
      500ms));
  EXPECT_EQ(frozen.terminate(10s), 0);
  other.stop(5s);
  leader.stop(5s);
}

}  // namespace
