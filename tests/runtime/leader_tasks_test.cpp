// runtime::TaskList and runtime::LeaderTasks: the leader's one task loop.
#include "runtime/leader_tasks.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/task_list.hpp"
#include "support/pg_test.hpp"

namespace {

using namespace std::chrono_literals;
using delta::runtime::Context;
using delta::runtime::LeaderTasks;
using delta::runtime::TaskList;

// A context without a database whose log lines are kept.
struct Logged {
  std::mutex mutex;
  std::vector<std::string> lines;  // guarded by mutex
  Context context() {
    Context ctx;
    ctx.options.leader_renew_interval = 20ms;
    ctx.options.logger = [this](delta::LogLevel, std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(line);
    };
    return ctx;
  }
  bool has(std::string_view text) {
    std::lock_guard lock(mutex);
    for (const auto& line : lines) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

TEST(leader_tasks_test, TaskListRunsWhatIsDueAndBacksOffAFailure) {
  Logged logged;
  const Context ctx = logged.context();
  TaskList tasks;
  int fine = 0;
  int later = 0;
  int broken = 0;
  const auto now = TaskList::Clock::now();
  tasks.add(
      "fine", 1h, [&] { ++fine; }, now);
  tasks.add(
      "later", 1h, [&] { ++later; }, now + 1h);
  tasks.add(
      "broken", 1h,
      [&] {
        ++broken;
        throw std::runtime_error("boom");
      },
      now);
  std::stop_source stop;
  tasks.run_due(stop.get_token(), ctx);
  EXPECT_EQ(fine, 1);
  EXPECT_EQ(broken, 1);
  EXPECT_TRUE(logged.has("broken failed (retrying in 100 ms): boom")) << "logged with its backoff";
  // The failure is retried after its backoff (100 ms), long before its interval (1 h).
  EXPECT_LT(tasks.next_due(now + 2h), now + 1s);
  tasks.run_due(stop.get_token(), ctx);
  EXPECT_EQ(fine, 1) << "ran once per interval";
  EXPECT_EQ(later, 0) << "not due yet";
  tasks.make_all_due();
  tasks.run_due(stop.get_token(), ctx);
  EXPECT_EQ(fine, 2);
  EXPECT_EQ(later, 1);
  EXPECT_TRUE(logged.has("broken failed (retrying in 200 ms)")) << "the backoff doubles";
}

TEST(leader_tasks_test, TasksRunOnlyWhileLeaderAndAllAtOnceWhenElected) {
  Logged logged;
  Context ctx = logged.context();
  std::atomic<bool> leader{false};
  LeaderTasks tasks(ctx, [&] { return leader.load(); });
  std::atomic<int> often{0};
  std::atomic<int> rarely{0};
  tasks.add("jobs", "often", 5ms, [&] { ++often; });
  tasks.add("jobs", "rarely", 1h, [&] { ++rarely; });
  tasks.start("jobs");
  EXPECT_TRUE(delta::testing::consistently([&] { return often == 0 && rarely == 0; }, 100ms))
      << "nothing runs on a follower";
  leader = true;
  tasks.wake();
  ASSERT_TRUE(delta::testing::eventually([&] { return often >= 3; }));
  EXPECT_EQ(rarely, 1) << "a new leader runs every task once at once, then each per interval";
  leader = false;
  const int seen = often;
  EXPECT_TRUE(delta::testing::consistently([&] { return often <= seen + 1; }, 100ms))
      << "a former leader stops within one look";
  leader = true;
  tasks.wake();
  ASSERT_TRUE(delta::testing::eventually([&] { return rarely == 2; }))
      << "elected again: everything runs again at once";
  tasks.stop();
}

TEST(leader_tasks_test, AFailingTaskNeverEndsTheLoopAndLanesDoNotWaitForEachOther) {
  Logged logged;
  Context ctx = logged.context();
  LeaderTasks tasks(ctx, [] { return true; });
  std::atomic<bool> release{false};
  std::atomic<int> failures{0};
  std::atomic<int> quick{0};
  tasks.add("resources", "slow cleaner", 1h, [&] {
    while (!release)
      std::this_thread::sleep_for(1ms);
  });
  tasks.add("jobs", "flaky", 1ms, [&] {
    ++failures;
    throw std::runtime_error("database gone");
  });
  tasks.add("jobs", "scheduler", 1ms, [&] { ++quick; });
  tasks.start("resources");
  tasks.start("jobs");
  ASSERT_TRUE(delta::testing::eventually([&] { return failures >= 2 && quick >= 5; }))
      << "the jobs lane runs on while the resources lane is busy, and retries its failure";
  EXPECT_TRUE(logged.has("flaky failed (retrying in"));
  release = true;
  tasks.stop();
}

TEST(leader_tasks_test, AddAfterStartIsRefused) {
  Logged logged;
  Context ctx = logged.context();
  LeaderTasks tasks(ctx, [] { return false; });
  tasks.add("jobs", "a", 1s, [] {});
  tasks.start("jobs");
  EXPECT_THROW(tasks.add("jobs", "b", 1s, [] {}), delta::Error);
  tasks.add("other", "c", 1s, [] {});  // a lane not started yet still takes tasks
  tasks.stop();
}

}  // namespace
