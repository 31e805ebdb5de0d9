#include "runtime/notifier.hpp"

#include <set>

#include <delta/errors.hpp>

namespace delta::runtime {

void Notifier::add_channel(std::string channel, PayloadHandler on_payload,
                           std::function<void()> on_reconnect) {
  if (listener_) throw Error("Notifier::add_channel after listen()");
  channels_.push_back({std::move(channel), std::move(on_payload), std::move(on_reconnect)});
}

void Notifier::listen() {
  pg::ListenerOptions options;
  options.connect.url = ctx_.pool->url();
  options.connect.connect_timeout = ctx_.pool->options().connect_timeout;
  options.connect.application_name = ctx_.pool->options().application_name;
  options.on_reconnect = [this] {
    ctx_.log(LogLevel::info, "notification listener reconnected; polling for work");
    for (const auto& channel : channels_) {
      if (channel.on_reconnect) channel.on_reconnect();
    }
  };
  options.on_error = [this](const std::string& message) {
    ctx_.count_error("notification listener");
    ctx_.log(LogLevel::warn, message);
  };
  listener_ = std::make_unique<pg::Listener>(std::move(options));
  std::set<std::string> listened;
  for (const auto& channel : channels_) {
    if (listened.insert(channel.name).second) listener_->listen(channel.name);
  }
}

void Notifier::start() {
  if (!listener_) listen();
  thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
}

void Notifier::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    auto notification = listener_->wait(std::chrono::seconds(1));
    if (!notification) continue;
    for (const auto& channel : channels_) {
      if (channel.name == notification->channel && channel.on_payload) {
        channel.on_payload(notification->payload);
      }
    }
  }
}

void Notifier::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    listener_->interrupt();
    thread_.join();
  }
}

}  // namespace delta::runtime
