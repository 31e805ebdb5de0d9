// A gate that work waits on until the test opens it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>

namespace delta::testing {

// Closed when made; open() opens it for good. Thread-safe.
class Gate {
 public:
  // Opens the gate and wakes every waiter.
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    ready_.notify_all();
  }

  // Blocks until the gate opens (or, with honour_stop, until `stop` fires); at most 20 s,
  // so that a failing test cannot hang. True when the gate opened.
  bool wait(std::stop_token stop, bool honour_stop) {
    std::unique_lock lock(mutex_);
    if (honour_stop) {
      ready_.wait_for(lock, stop, std::chrono::seconds(20), [&] { return open_; });
    } else {
      ready_.wait_for(lock, std::chrono::seconds(20), [&] { return open_; });
    }
    return open_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any ready_;
  bool open_ = false;  // guarded by mutex_
};

}  // namespace delta::testing
