#include "runtime/notify_limiter.hpp"

#include <fmt/format.h>

namespace delta::runtime {

bool NotifyLimiter::should_notify(const std::string& channel,
                                  const std::vector<std::string>& keys) {
  const auto limit = ctx_.options.notify_rate_limit;
  if (limit.count() <= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  bool notify = false;
  bool owed = false;
  std::lock_guard lock(mutex_);
  if (stopped_) return true;
  for (const auto& key : keys) {
    auto [last, fresh] = last_sent_.try_emplace(Key{channel, key}, now);
    if (fresh || now - last->second >= limit) {
      last->second = now;
      notify = true;
    } else {
      owed = trailing_.insert(Key{channel, key}).second || owed;
    }
  }
  if (owed) {
    if (!trailer_.joinable()) {
      trailer_ = std::jthread([this](std::stop_token stop) { trailer_loop(stop); });
    }
    ++debts_;
    owed_.notify_all();
  }
  return notify;
}

void NotifyLimiter::stop() {
  std::jthread trailer;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    trailer = std::move(trailer_);
  }
  if (trailer.joinable()) {
    trailer.request_stop();
    owed_.notify_all();
    trailer.join();
  }
}

void NotifyLimiter::trailer_loop(std::stop_token stop) {
  const auto limit = ctx_.options.notify_rate_limit;
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    const auto now = std::chrono::steady_clock::now();
    auto next = now + std::chrono::seconds(1);
    std::vector<Key> owed;
    for (auto it = trailing_.begin(); it != trailing_.end();) {
      auto& last = last_sent_[*it];
      if (now - last >= limit) {
        last = now;
        owed.push_back(*it);
        it = trailing_.erase(it);
      } else {
        next = std::min(next, last + limit);
        ++it;
      }
    }
    if (!owed.empty()) {
      lock.unlock();
      try {
        send_(owed);
      } catch (const std::exception& e) {
        ctx_.count_error("wake-up notification");
        ctx_.log(LogLevel::warn, fmt::format("could not send a wake-up: {}", e.what()),
                 {{"error", e.what()}});
      }
      lock.lock();
      continue;
    }
    const auto seen = debts_;
    owed_.wait_until(lock, stop, next, [&] { return debts_ != seen; });
  }
}

}  // namespace delta::runtime
