// runtime::WorkerPool: the buffer and worker threads both runners share.
#include "runtime/worker_pool.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "support/pg_test.hpp"

namespace {

using namespace std::chrono_literals;
using Pool = delta::runtime::WorkerPool<int, int>;

// Items the pool ran and finished, as the runner would see them.
struct Seen {
  std::mutex mutex;
  std::multiset<int> ran;       // guarded by mutex
  std::multiset<int> finished;  // guarded by the pool's mutex
};

Pool::Hooks counting_hooks(Seen& seen, std::function<void(int)> body = {}) {
  Pool::Hooks hooks;
  hooks.running_of = [](const int& item) { return item; };
  hooks.run = [&seen, body](int& item) {
    if (body) body(item);
    std::lock_guard lock(seen.mutex);
    seen.ran.insert(item);
  };
  hooks.finished = [&seen](const int& item, std::unique_lock<std::mutex>&) {
    seen.finished.insert(item);
  };
  return hooks;
}

TEST(worker_pool_test, EveryItemRunsOnceAndIsReportedFinished) {
  std::mutex mutex;
  Seen seen;
  Pool pool(mutex, counting_hooks(seen));
  pool.start(3);
  {
    std::lock_guard lock(mutex);
    for (int item = 0; item < 200; ++item)
      pool.ready().push_back(item);
    pool.wake_one();
  }
  ASSERT_TRUE(delta::testing::eventually([&] {
    std::lock_guard lock(mutex);
    return seen.finished.size() == 200;
  }));
  pool.join();
  std::multiset<int> expected;
  for (int item = 0; item < 200; ++item)
    expected.insert(item);
  EXPECT_EQ(seen.ran, expected);
  EXPECT_EQ(seen.finished, expected);
  std::lock_guard lock(mutex);
  EXPECT_TRUE(pool.ready().empty());
  EXPECT_TRUE(pool.running().empty());
}

TEST(worker_pool_test, OneWakeUpReachesEveryIdleWorker) {
  // Four items that each wait until all four run at once: only four threads, each woken
  // in turn by the one before it, can get there.
  std::mutex mutex;
  Seen seen;
  std::mutex gate_mutex;
  std::condition_variable gate;
  int inside = 0;
  Pool pool(mutex, counting_hooks(seen, [&](int) {
              std::unique_lock lock(gate_mutex);
              ++inside;
              gate.notify_all();
              gate.wait_for(lock, 10s, [&] { return inside >= 4; });
            }));
  pool.start(4);
  {
    std::lock_guard lock(mutex);
    for (int item = 0; item < 4; ++item)
      pool.ready().push_back(item);
    pool.wake_one();  // one notification for the whole batch
  }
  ASSERT_TRUE(delta::testing::eventually([&] {
    std::lock_guard lock(gate_mutex);
    return inside == 4;
  }));
  pool.join();
  EXPECT_EQ(seen.finished.size(), 4u);
}

TEST(worker_pool_test, RunningListsWhatRunsUntilItFinishes) {
  std::mutex mutex;
  Seen seen;
  std::atomic<bool> release{false};
  Pool pool(mutex, counting_hooks(seen, [&](int) {
              while (!release)
                std::this_thread::sleep_for(1ms);
            }));
  pool.start(1);
  {
    std::lock_guard lock(mutex);
    pool.ready().push_back(7);
    pool.ready().push_back(8);
    pool.wake_one();
  }
  ASSERT_TRUE(delta::testing::eventually([&] {
    std::lock_guard lock(mutex);
    return pool.running() == std::vector<int>{7};
  }));
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(pool.ready().size(), 1u) << "one thread: the second item waits";
    auto unstarted = pool.take_ready();
    ASSERT_EQ(unstarted.size(), 1u);
    EXPECT_EQ(unstarted.front(), 8);
    EXPECT_TRUE(pool.ready().empty());
  }
  release = true;
  pool.join();
  EXPECT_EQ(seen.ran, std::multiset<int>{7}) << "an item taken back never runs";
}

TEST(worker_pool_test, PickHoldsBackItemsThatMayNotStart) {
  // Odd items may not start (their kind has no free slot); even ones run, in order.
  std::mutex mutex;
  Seen seen;
  auto hooks = counting_hooks(seen);
  std::vector<int> order;
  hooks.pick = [](Pool::Ready& ready) {
    return std::find_if(ready.begin(), ready.end(), [](int item) { return item % 2 == 0; });
  };
  hooks.run = [&](int& item) {
    std::lock_guard lock(seen.mutex);
    seen.ran.insert(item);
    order.push_back(item);
  };
  Pool pool(mutex, hooks);
  pool.start(1);
  {
    std::lock_guard lock(mutex);
    for (int item : {1, 2, 3, 4, 6})
      pool.ready().push_back(item);
    pool.wake_one();
  }
  ASSERT_TRUE(delta::testing::eventually([&] {
    std::lock_guard lock(mutex);
    return seen.finished.size() == 3;
  }));
  pool.join();  // the held-back items stay: join does not wait for them
  EXPECT_EQ(order, (std::vector<int>{2, 4, 6}));
  std::lock_guard lock(mutex);
  EXPECT_EQ(pool.ready(), (Pool::Ready{1, 3}));
}

TEST(worker_pool_test, FinishedMayReleaseTheLockAndJoinIsIdempotent) {
  std::mutex mutex;
  Seen seen;
  auto hooks = counting_hooks(seen);
  std::atomic<int> unlocked_calls{0};
  hooks.finished = [&](const int& item, std::unique_lock<std::mutex>& lock) {
    seen.finished.insert(item);
    lock.unlock();
    ++unlocked_calls;  // e.g. give a slot back, wake a claimer
    lock.lock();
  };
  Pool pool(mutex, hooks);
  pool.start(2);
  {
    std::lock_guard lock(mutex);
    for (int item = 0; item < 50; ++item)
      pool.ready().push_back(item);
    pool.wake_one();
  }
  ASSERT_TRUE(delta::testing::eventually([&] { return unlocked_calls == 50; }));
  pool.join();
  pool.join();
  EXPECT_EQ(seen.finished.size(), 50u);
}

}  // namespace
