// Waking pooled worker threads one at a time.
#pragma once

#include <condition_variable>
#include <mutex>

namespace delta::internal {

// Counts the workers sleeping on a condition variable and those notified but not yet
// running, so that a batch of N items costs as many wake-ups as threads are needed,
// not N: whoever adds items wakes one sleeper, and a worker that takes an item wakes the
// next only while items remain. Workers that finish an item take the next without
// sleeping, so with short work a few threads drain a whole batch; with long work the
// chain still reaches every idle worker, one wake-up latency after the other.
//
// Every member is called with the owner's mutex held. Workers wait with wait() in a loop
// of their own (`while (nothing to do) chain.wait(cv, lock);`), not with a predicate, so
// that a notified worker that finds nothing to do counts as woken and does not block the
// next wake-up.
class WakeChain {
 public:
  // Whether to notify one sleeper: there is one, and none is already on its way.
  bool should_wake() {
    if (waking_ > 0 || sleeping_ == 0) return false;
    ++waking_;
    return true;
  }
  // One wait on `cv`, counted as sleeping until it returns (notified or not).
  void wait(std::condition_variable& cv, std::unique_lock<std::mutex>& lock) {
    sleeping();
    cv.wait(lock);
    woke();
  }
  // The counting under wait(), for waits of another shape.
  void sleeping() { ++sleeping_; }
  void woke() {
    --sleeping_;
    if (waking_ > 0) --waking_;
  }

 private:
  int sleeping_ = 0;
  int waking_ = 0;
};

}  // namespace delta::internal
