// What a test controller's work() calls saw, recorded for the test to check.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace delta::testing {

// One work() call as the controller saw it.
struct Seen {
  std::string key;
  std::string action;
  int version = 0;
  std::int64_t generation = 0;
  int attempt = 0;
};

// Records work() calls: which, how many per key, how many at once. Thread-safe.
class Recorder {
 public:
  // A work() call begins; returns how many times `seen.key` has been worked, this call
  // included.
  int enter(const Seen& seen);
  // A work() call that entered has returned.
  void leave();
  // Waits until `target` work() calls run at once, or every one of the `goal` calls the
  // test expects has started (at most 3 s), then holds the caller's slot 50 ms longer.
  void hold(int target);
  // How many work() calls the test expects in all (for hold()); unset: no limit.
  void set_goal(int goal);

  // How many times `key` has been worked.
  int runs(const std::string& key) const;
  // How many work() calls have started.
  int total() const;
  // How many work() calls run now.
  int running() const;
  // The most work() calls that ran at once.
  int peak() const;
  // The calls that worked `key`, in the order they began.
  std::vector<Seen> seen(const std::string& key) const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, int> runs_;  // guarded by mutex_
  std::vector<Seen> seen_;           // guarded by mutex_
  int running_ = 0;                  // guarded by mutex_
  int peak_ = 0;                     // guarded by mutex_
  int started_ = 0;                  // guarded by mutex_
  int goal_ = 1 << 30;               // guarded by mutex_
};

}  // namespace delta::testing
