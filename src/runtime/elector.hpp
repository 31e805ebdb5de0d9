// This process's heartbeat and the leader lease.
//
// One thread (the pulse) heartbeats and takes or renews the leadership on a connection
// of its own, so that a busy pool or a slow leader task can never make a live client look
// dead. The leadership is believed only for leader_ttl from before the statement that
// granted it: this process never acts as leader longer than the database says it is.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "pg/connection.hpp"
#include "runtime/context.hpp"
#include "runtime/process_store.hpp"

namespace delta::runtime {

class Elector {
 public:
  Elector(Context& ctx, ProcessStore& store) : ctx_(ctx), store_(store) {}
  // Before start(): `callback` runs (on the pulse thread) each time this process becomes
  // the leader.
  void on_elected(std::function<void()> callback);
  // Registers this process (one heartbeat, synchronously: throws DatabaseError when the
  // database cannot be reached), then starts the pulse.
  void start();
  // Ends the pulse, resigns the leadership if held, and marks this process stopped.
  void stop();
  // Runs an election now (another process resigned).
  void wake_election();
  bool is_leader() const;
  // When a statement of the pulse (heartbeat or election) last succeeded; the epoch of
  // steady_clock when none has.
  std::chrono::steady_clock::time_point last_contact() const noexcept {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_contact_.load(std::memory_order_relaxed)));
  }

 private:
  void pulse(std::stop_token stop);
  // Runs `body` on the pulse connection, (re)opening it when needed.
  template <class F>
  void on_pulse_connection(F&& body);
  void heartbeat();
  void elect();

  Context& ctx_;
  ProcessStore& store_;
  std::vector<std::function<void()>> on_elected_;  // set before start
  std::unique_ptr<pg::Connection> pulse_conn_;     // used by the pulse thread only
  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool election_requested_ = false;  // guarded by mutex_
  std::atomic<bool> leader_{false};
  std::atomic<std::int64_t> leader_until_{0};  // steady_clock ticks
  std::atomic<std::int64_t> last_contact_{0};  // steady_clock ticks
  std::jthread pulse_thread_;
};

}  // namespace delta::runtime
