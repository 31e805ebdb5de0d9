// A background thread that writes items in batches: at most `batch_size` per write, and
// no later than `flush_interval` after the first item of a batch arrived. A write that
// fails for a passing reason (connection lost) is tried again after a backoff, keeping
// the items in order; at shutdown it gives up after a few tries.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <delta/errors.hpp>
#include <delta/log.hpp>

#include "common/backoff.hpp"

namespace delta::internal {

template <class Item>
class BatchWriter {
 public:
  // Writes one batch; returns false when it should be tried again later.
  using Write = std::function<bool(std::vector<Item>&)>;
  // Called with the number of items dropped when shutdown gives up on them.
  using GiveUp = std::function<void(std::size_t)>;

  BatchWriter(std::size_t batch_size, std::chrono::milliseconds flush_interval, Write write,
              GiveUp give_up)
      : batch_size_(std::max<std::size_t>(batch_size, 1)),
        flush_interval_(flush_interval),
        write_(std::move(write)),
        give_up_(std::move(give_up)) {}

  void start() {
    thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  }

  void submit(Item item) {
    std::lock_guard lock(mutex_);
    if (pending_.empty()) first_pending_ = std::chrono::steady_clock::now();
    pending_.push_back(std::move(item));
    if (pending_.size() == 1 || pending_.size() >= batch_size_) ready_.notify_all();
  }

  // Writes everything pending, then ends the thread.
  void stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      ready_.notify_all();
      thread_.join();
    }
  }

  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }

  // Whether more items wait than the next two writes take (at least kBacklog): whoever
  // produces them should pause. Nothing else bounds the queue -- a producer faster than
  // the database would otherwise keep every unwritten item in memory.
  bool backlogged() const {
    std::lock_guard lock(mutex_);
    return pending_.size() >= std::max(2 * batch_size_, kBacklog);
  }
  static constexpr std::size_t kBacklog = 256;

 private:
  void run(std::stop_token stop) {
    LoopBackoff backoff;
    int failures_after_stop = 0;
    for (;;) {
      std::vector<Item> batch;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, stop, [&] { return !pending_.empty(); });
        if (pending_.empty()) return;  // stopping with nothing left
        if (!stop.stop_requested() && pending_.size() < batch_size_) {
          auto flush_at = first_pending_ + flush_interval_;
          ready_.wait_until(lock, stop, flush_at, [&] { return pending_.size() >= batch_size_; });
        }
        auto take = std::min(pending_.size(), batch_size_);
        batch.assign(std::make_move_iterator(pending_.begin()),
                     std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(take)));
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(take));
        if (!pending_.empty()) first_pending_ = std::chrono::steady_clock::now();
      }
      if (write_(batch)) {
        backoff.succeeded();
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin()),
                        std::make_move_iterator(batch.end()));
        first_pending_ = std::chrono::steady_clock::now();
      }
      if (stop.stop_requested() && ++failures_after_stop >= 5) {
        std::size_t dropped = 0;
        {
          std::lock_guard lock(mutex_);
          dropped = pending_.size();
          pending_.clear();
        }
        if (give_up_) give_up_(dropped);
        return;
      }
      auto pause = backoff.failed();
      std::this_thread::sleep_for(stop.stop_requested() ? std::chrono::milliseconds(200) : pause);
    }
  }

  const std::size_t batch_size_;
  const std::chrono::milliseconds flush_interval_;
  const Write write_;
  const GiveUp give_up_;
  mutable std::mutex mutex_;
  std::condition_variable_any ready_;
  std::deque<Item> pending_;                             // guarded by mutex_
  std::chrono::steady_clock::time_point first_pending_;  // guarded by mutex_
  std::jthread thread_;
};

// Failures that writing the same outcomes again cannot fix.
inline bool is_poison(const std::exception& e) {
  if (const auto* db = dynamic_cast<const DatabaseError*>(&e)) {
    return db->kind() == DatabaseErrorKind::bad_input ||
           db->kind() == DatabaseErrorKind::constraint;
  }
  return dynamic_cast<const nlohmann::json::exception*>(&e) != nullptr;
}

// Writes a batch of outcomes with `apply`. Returns false when the whole batch should be
// tried again later (a passing failure). When the database refuses the batch for bad
// data, the items are written one by one so that one poisoned outcome never holds back
// the others; an item still refused is written once more after `strip` (which drops its
// error message). `noun` ("job", "resource") and `id_of` name items in the log.
template <class Item, class Apply, class Strip, class IdOf>
bool write_splitting(std::vector<Item>& batch, Apply&& apply, Strip&& strip, IdOf&& id_of,
                     std::string_view noun, const Logger& log) {
  auto say = [&](LogLevel level, const std::string& message) {
    if (log) log(level, message);
  };
  try {
    apply(batch);
    return true;
  } catch (const std::exception& e) {
    if (!is_poison(e)) {
      say(LogLevel::warn, fmt::format("writing {} {} outcomes failed (will retry): {}",
                                      batch.size(), noun, e.what()));
      return false;
    }
    say(LogLevel::error, fmt::format("writing {} {} outcomes failed: {}; writing them one by one",
                                     batch.size(), noun, e.what()));
  }
  for (auto& item : batch) {
    std::vector<Item> single{item};
    try {
      apply(single);
      continue;
    } catch (const std::exception& e) {
      if (!is_poison(e)) {
        say(LogLevel::warn, fmt::format("{} {}: outcome not written ({}); the rescuer will retry "
                                        "it",
                                        noun, id_of(item), e.what()));
        continue;
      }
    }
    try {
      strip(single.front());
      apply(single);
      say(LogLevel::error, fmt::format("{} {}: its error message could not be stored and was "
                                       "dropped",
                                       noun, id_of(item)));
    } catch (const std::exception& e) {
      say(LogLevel::error, fmt::format("{} {}: outcome refused by the database ({}); the rescuer "
                                       "will retry it",
                                       noun, id_of(item), e.what()));
    }
  }
  return true;
}

}  // namespace delta::internal
