// LISTEN/NOTIFY on a dedicated connection that survives connection loss.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "pg/connection.hpp"

namespace delta::pg {

struct Notification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;
};

struct ListenerOptions {
  ConnectOptions connect;
  // Backoff between reconnect attempts: starts at min, doubles up to max.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{std::chrono::seconds(5)};
  // Called (from the thread calling wait) after a lost connection was re-established
  // and every channel re-LISTENed: notifications sent meanwhile may have been missed.
  std::function<void()> on_reconnect;
  // Called with a description whenever the connection fails or a reconnect attempt fails.
  std::function<void(const std::string&)> on_error;
};

// Not thread-safe: one thread calls listen()/wait(). To wake a blocked wait() from
// another thread use interrupt().
class Listener {
 public:
  explicit Listener(ListenerOptions options);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Subscribes to `channel` (kept across reconnects). Connects if needed; if the
  // connection is down the channel is remembered and LISTENed on reconnect.
  void listen(const std::string& channel);
  void unlisten(const std::string& channel);

  // Waits up to `timeout` for one notification. Returns nullopt on timeout, on
  // interrupt(), or while the connection is down (it reconnects with backoff inside
  // wait, never sleeping past the timeout). Never throws for connection problems.
  std::optional<Notification> wait(std::chrono::milliseconds timeout);

  // Makes a concurrent or the next wait() return promptly. Thread-safe.
  void interrupt() noexcept;

  bool connected() const noexcept;
  // PID of the current server backend (0 when disconnected).
  int backend_pid() const noexcept;
  // Times the connection was re-established after a loss.
  std::uint64_t reconnects() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace delta::pg
