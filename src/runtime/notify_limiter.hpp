// At most one wake-up NOTIFY per key per Options::notify_rate_limit from this process.
//
// Writes that make work runnable (job inserts, informs) ask should_notify() whether their
// statement should carry a NOTIFY for their keys (queues, kinds). A suppressed wake-up is
// owed: a trailer thread (started on first need) sends it once the key's window has
// passed, so a burst of writes costs one notification at each end, never a missed one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/context.hpp"

namespace delta::runtime {

class NotifyLimiter {
 public:
  using Key = std::pair<std::string, std::string>;  // channel, payload
  // Sends owed wake-ups (on the trailer thread); may throw (logged, not retried: polling
  // finds the work).
  using Sender = std::function<void(const std::vector<Key>& owed)>;
  NotifyLimiter(Context& ctx, Sender send) : ctx_(ctx), send_(std::move(send)) {}
  ~NotifyLimiter() { stop(); }
  NotifyLimiter(const NotifyLimiter&) = delete;
  NotifyLimiter& operator=(const NotifyLimiter&) = delete;

  // Whether a write announcing `keys` on `channel` should carry a NOTIFY. Always true
  // without a rate limit and after stop(). Thread-safe.
  bool should_notify(const std::string& channel, const std::vector<std::string>& keys);
  // Ends the trailer thread (wake-ups still owed are not sent: polling finds the work).
  void stop();

 private:
  void trailer_loop(std::stop_token stop);

  Context& ctx_;
  Sender send_;
  std::mutex mutex_;
  std::condition_variable_any owed_;
  bool stopped_ = false;                                            // guarded by mutex_
  std::map<Key, std::chrono::steady_clock::time_point> last_sent_;  // guarded by mutex_
  std::set<Key> trailing_;   // guarded by mutex_: wake-ups owed
  std::uint64_t debts_ = 0;  // guarded by mutex_: bumped when a wake-up becomes owed
  std::jthread trailer_;     // guarded by mutex_ (started lazily)
};

}  // namespace delta::runtime
