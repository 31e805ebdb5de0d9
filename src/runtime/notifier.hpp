// LISTEN for the whole process: one connection and one thread deliver every
// notification to the handlers the engines registered for its channel.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "pg/listener.hpp"
#include "runtime/context.hpp"

namespace delta::runtime {

class Notifier {
 public:
  using PayloadHandler = std::function<void(const std::string& payload)>;

  explicit Notifier(Context& ctx) : ctx_(ctx) {}
  ~Notifier() { stop(); }
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Before listen(): `on_payload` runs on the notifier thread for each notification on
  // `channel`; `on_reconnect` after the listener reconnected (wake-ups may have been
  // missed: look for work). Several handlers may share a channel.
  void add_channel(std::string channel, PayloadHandler on_payload,
                   std::function<void()> on_reconnect = {});
  // LISTENs on every registered channel (before any work is fetched, so that no wake-up
  // after it is missed).
  void listen();
  // Starts delivering notifications (once every handler's target is ready).
  void start();
  void stop();

 private:
  void loop(std::stop_token stop);

  struct Channel {
    std::string name;
    PayloadHandler on_payload;
    std::function<void()> on_reconnect;
  };
  Context& ctx_;
  std::vector<Channel> channels_;  // set before listen()
  std::unique_ptr<pg::Listener> listener_;
  std::jthread thread_;
};

}  // namespace delta::runtime
