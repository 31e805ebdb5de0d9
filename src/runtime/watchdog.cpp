#include "runtime/watchdog.hpp"

namespace delta::runtime {

void Watchdog::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void Watchdog::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    changed_.notify_all();
    thread_.join();
  }
}

std::stop_token Watchdog::add(std::int64_t id, std::chrono::steady_clock::time_point deadline) {
  std::lock_guard lock(mutex_);
  auto& entry = running_[id];
  // The runner checked the fence just before starting it; the loop below watches it after.
  entry = Entry{deadline, std::stop_source(), {}, fence_ != nullptr ? fence_->epoch() : 0};
  if (deadline < next_check_) {
    next_check_ = deadline;
    ++generation_;
    changed_.notify_all();
  }
  return entry.source.get_token();
}

Watchdog::Flags Watchdog::remove(std::int64_t id) {
  std::lock_guard lock(mutex_);
  auto it = running_.find(id);
  if (it == running_.end()) return {};
  Flags flags = it->second.flags;
  running_.erase(it);
  return flags;
}

void Watchdog::cancel(std::int64_t id) {
  std::lock_guard lock(mutex_);
  auto it = running_.find(id);
  if (it == running_.end()) return;
  it->second.flags.cancelled = true;
  it->second.source.request_stop();
}

void Watchdog::shutdown_all() {
  std::lock_guard lock(mutex_);
  for (auto& [id, entry] : running_) {
    entry.flags.shutdown = true;
    entry.source.request_stop();
  }
}

void Watchdog::fence(Entry& entry, std::chrono::steady_clock::time_point now) const {
  // Closed now, or closed since it started (and maybe rescued meanwhile).
  if (entry.flags.fenced || fence_ == nullptr) return;
  if (!fence_->fenced(now) && entry.epoch == fence_->epoch()) return;
  entry.flags.fenced = true;
  entry.flags.shutdown = true;
  entry.source.request_stop();
}

void Watchdog::run(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    auto now = std::chrono::steady_clock::now();
    auto next = now + std::chrono::seconds(1);
    // Awake when the fence would close (after a SIGSTOP that passed it: at once).
    if (fence_ != nullptr && fence_->closes_at() > now) next = std::min(next, fence_->closes_at());
    for (auto& [id, entry] : running_) {
      fence(entry, now);
      if (entry.flags.timed_out) continue;
      if (entry.deadline <= now) {
        entry.flags.timed_out = true;
        entry.source.request_stop();
      } else {
        next = std::min(next, entry.deadline);
      }
    }
    next_check_ = next;
    const auto seen = generation_;
    changed_.wait_until(lock, stop, next, [&] { return generation_ != seen; });
  }
}

}  // namespace delta::runtime
