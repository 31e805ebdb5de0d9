// Self-fencing: a client that cannot record its heartbeat stops working before another
// process may take its work over.
//
// Other processes rescue a client's leased resources and running jobs once its heartbeat
// in the database is older than client_ttl. The heartbeat's time there is no earlier than
// when this process sent the statement, so counting from the send time of the last
// heartbeat that was recorded, this process knows a horizon before which nobody rescues
// its work: horizon() after it (between heartbeat_interval and client_ttl, a fifth of
// client_ttl before it by default). Past the horizon the client is fenced: it claims and
// fetches nothing, starts nothing it holds, and its watchdogs signal the stop token of
// everything running (an outcome then written is refused by the lease fence if the work
// was rescued meanwhile). The next recorded heartbeat lifts the fence.
//
// fenced() is computed from the clock on every call, so a process continued after being
// frozen (SIGSTOP) sees itself fenced at once, whichever of its threads runs first. And
// since a frozen process's heartbeat may be recorded again before its other threads run,
// every closing of the fence starts a new epoch(): work started, claimed or fetched in an
// earlier epoch is stopped or given back even when the fence is open again by then.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "runtime/context.hpp"

namespace delta::runtime {

class Fence {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Fence(Context& ctx);

  // How long after the send time of the last recorded heartbeat the client fences itself.
  static std::chrono::milliseconds horizon(std::chrono::milliseconds heartbeat_interval,
                                           std::chrono::milliseconds client_ttl);

  // The heartbeat sent at `sent` was recorded.
  void recorded(Clock::time_point sent);
  // Whether this client must not claim, fetch or start work now. False until the first
  // heartbeat is recorded (nothing runs before it).
  bool fenced() const { return fenced(Clock::now()); }
  bool fenced(Clock::time_point now) const;
  // When the fence closes unless a heartbeat is recorded first (max() before the first).
  Clock::time_point closes_at() const noexcept;
  // Bumped each time the fence has been closed (seen closed, or a heartbeat recorded only
  // after the horizon had passed): what was taken in an earlier epoch may have been rescued.
  std::uint64_t epoch() const noexcept { return epoch_.load(std::memory_order_acquire); }

 private:
  // The first caller to see the fence closed logs and counts the episode.
  void entered(Clock::time_point now) const;

  Context& ctx_;
  const Clock::duration horizon_;
  std::atomic<Clock::rep> last_sent_{0};  // 0: none recorded yet
  mutable std::atomic<bool> in_episode_{false};
  mutable std::atomic<std::uint64_t> epoch_{0};
  Gauge* fenced_gauge_;
  Counter* episodes_;
};

}  // namespace delta::runtime
