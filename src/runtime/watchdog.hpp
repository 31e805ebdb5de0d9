// Deadlines and stop requests of running work (resources, jobs, informer runs): one
// thread signals each item's stop token when its deadline passes, when an operator
// cancels it, when the client stops, or when the client is fenced (runtime/fence.hpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <stop_token>
#include <thread>

#include "runtime/fence.hpp"

namespace delta::runtime {

class Watchdog {
 public:
  // Why an item's stop token was signalled (several may be set).
  struct Flags {
    bool timed_out = false;
    bool shutdown = false;
    bool cancelled = false;
    bool fenced = false;  // shutdown is set too: the work is given back, not failed
  };
  // Before start(): signal everything running while `fence` is closed (null: never).
  void watch(const Fence* fence) { fence_ = fence; }
  void start();
  void stop();
  // Watches item `id` until remove(); returns the token its code should honour.
  std::stop_token add(std::int64_t id, std::chrono::steady_clock::time_point deadline);
  Flags remove(std::int64_t id);
  void cancel(std::int64_t id);  // an operator cancelled it
  void shutdown_all();           // the client is stopping

 private:
  struct Entry {
    std::chrono::steady_clock::time_point deadline;
    std::stop_source source;
    Flags flags;
    std::uint64_t epoch = 0;  // the fence's epoch when it started
  };
  void run(std::stop_token stop);
  // Signals `entry` as fenced if the fence is closed at `now` or has been since it started.
  void fence(Entry& entry, std::chrono::steady_clock::time_point now) const;
  const Fence* fence_ = nullptr;
  std::mutex mutex_;
  std::condition_variable_any changed_;
  std::map<std::int64_t, Entry> running_;  // guarded by mutex_
  // When the watchdog thread wakes next (guarded by mutex_): add() wakes it early only for
  // a deadline before that, so a steady stream of work does not wake it once per item.
  std::chrono::steady_clock::time_point next_check_ = std::chrono::steady_clock::time_point::max();
  std::uint64_t generation_ = 0;  // guarded by mutex_: bumped when it must look again
  std::jthread thread_;
};

}  // namespace delta::runtime
