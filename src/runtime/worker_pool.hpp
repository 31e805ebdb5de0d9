// Worker threads over a buffer of taken work: what a queue runner and a namespace runner
// share. The runner's fetcher or claimer (the source) puts items into ready(); the
// workers take them one at a time, in buffer order among those the runner lets start
// (Hooks::pick), run them outside the lock, and report each back (Hooks::finished, the
// sink). Sleeping workers are woken one at a time (internal::WakeChain), so a batch costs
// as many wake-ups as threads are needed.
//
// The pool's state is guarded by the runner's mutex, so that the runner's own counters
// (items in flight, whether to fetch again) change in the same critical sections. Members
// marked "mutex held" must be called with it locked.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "common/wake_chain.hpp"

namespace delta::runtime {

// `Item`: one unit of work as the source took it. `Running`: what the runner needs to know
// of an item while it runs and after it ran (its id, its claim time, ...).
template <class Item, class Running>
class WorkerPool {
 public:
  using Ready = std::deque<Item>;
  struct Hooks {
    // (mutex held) The next item of `ready` that may start now, or ready.end(). May take
    // a slot for it (the runner gives it back in finished). Default: the first.
    std::function<typename Ready::iterator(Ready& ready)> pick;
    // (mutex held) What running() reports of `item`, and what finished() gets.
    std::function<Running(const Item& item)> running_of;
    // (mutex not held) Works the item.
    std::function<void(Item& item)> run;
    // (mutex held through `lock`, which it may release and take again) After an item ran.
    std::function<void(const Running& running, std::unique_lock<std::mutex>& lock)> finished;
  };

  WorkerPool(std::mutex& mutex, Hooks hooks) : mutex_(mutex), hooks_(std::move(hooks)) {
    if (!hooks_.pick) hooks_.pick = [](Ready& ready) { return ready.begin(); };
  }
  ~WorkerPool() { join(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start(int threads) {
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this] { loop(); });
  }

  // (mutex held) Items taken but not started; the source appends, the runner may renew
  // or drop waiting items.
  Ready& ready() noexcept { return ready_; }
  // (mutex held) Wakes one sleeping worker when items wait and none is already on its way
  // (after the source added items, or after a slot came free elsewhere).
  void wake_one() {
    if (!ready_.empty() && wakes_.should_wake()) cv_.notify_one();
  }
  // (mutex held) What runs now.
  std::vector<Running> running() const { return {running_.begin(), running_.end()}; }
  // (mutex held) Removes and returns every item not started (to release them).
  Ready take_ready() {
    Ready taken;
    taken.swap(ready_);
    return taken;
  }
  // (mutex not held) Ends the workers once their current items returned; items still in
  // the buffer that may start are run first. Idempotent.
  void join() {
    {
      std::lock_guard lock(mutex_);
      exit_ = true;
    }
    cv_.notify_all();
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
    threads_.clear();
  }

 private:
  // One lock acquisition per item where the runner allows it: finishing an item and
  // taking the next share it, and a worker with items ready never sleeps between them.
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      auto next = hooks_.pick(ready_);
      while (next == ready_.end() && !exit_) {
        wakes_.wait(cv_, lock);
        next = hooks_.pick(ready_);
      }
      if (next == ready_.end()) return;
      Item item = std::move(*next);
      ready_.erase(next);
      auto slot = running_.insert(running_.end(), hooks_.running_of(item));
      const bool wake_next = !ready_.empty() && wakes_.should_wake();
      lock.unlock();
      if (wake_next) cv_.notify_one();
      hooks_.run(item);
      lock.lock();
      const Running done = std::move(*slot);
      running_.erase(slot);
      hooks_.finished(done, lock);
    }
  }

  std::mutex& mutex_;
  Hooks hooks_;
  std::condition_variable cv_;
  Ready ready_;                 // guarded by mutex_
  std::list<Running> running_;  // guarded by mutex_
  bool exit_ = false;           // guarded by mutex_
  internal::WakeChain wakes_;   // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace delta::runtime
