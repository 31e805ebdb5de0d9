// Event subscriptions.
//
// A Subscription<E> is a bounded buffer that delta's threads push events into and one
// consumer reads from. Publishing never blocks: when the buffer is full the newest event
// is dropped and counted. Ending the subscription (destroying it or close()) or stopping
// the client ends delivery; next() then returns the events already buffered, then nullopt
// at once.
//
//   auto sub = client.jobs().subscribe({delta::jobs::JobEventKind::failed});
//   while (auto event = sub.next(std::chrono::seconds(1))) { ... }
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include <delta/export.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

namespace detail {
// The state shared by a Subscription and the publisher that feeds it.
template <class E>
struct SubscriptionState {
  explicit SubscriptionState(std::size_t max_events) : capacity(max_events) {}

  // Non-blocking; returns false when the event was dropped (buffer full or closed).
  bool publish(const E& event) {
    {
      std::lock_guard lock(mutex);
      if (closed) return false;
      if (buffer.size() >= capacity) {
        ++dropped;
        return false;
      }
      buffer.push_back(event);
    }
    ready.notify_one();
    return true;
  }
  // Publishes a batch under one lock and wakes the reader once; returns how many were
  // dropped.
  template <class Filter>
  std::size_t publish_many(const std::vector<E>& events, Filter&& wanted) {
    std::size_t lost = 0;
    bool any = false;
    {
      std::lock_guard lock(mutex);
      for (const auto& event : events) {
        if (!wanted(event)) continue;
        if (closed || buffer.size() >= capacity) {
          if (!closed) ++dropped;
          ++lost;
          continue;
        }
        buffer.push_back(event);
        any = true;
      }
    }
    if (any) ready.notify_one();
    return lost;
  }
  void close() {
    {
      std::lock_guard lock(mutex);
      closed = true;
    }
    ready.notify_all();
  }

  const std::size_t capacity;
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<E> buffer;       // guarded by mutex
  std::uint64_t dropped = 0;  // guarded by mutex
  bool closed = false;        // guarded by mutex
};
}  // namespace detail

template <class E>
class Subscription {
 public:
  explicit Subscription(std::shared_ptr<detail::SubscriptionState<E>> state)
      : state_(std::move(state)) {}
  Subscription(Subscription&&) noexcept = default;
  Subscription& operator=(Subscription&&) noexcept = default;
  ~Subscription() {
    if (state_) state_->close();
  }

  // Waits up to `timeout` for the next event; nullopt on timeout or once closed and
  // drained. Call from one thread at a time.
  std::optional<E> next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(state_->mutex);
    state_->ready.wait_for(lock, timeout,
                           [&] { return !state_->buffer.empty() || state_->closed; });
    if (state_->buffer.empty()) return std::nullopt;
    E event = std::move(state_->buffer.front());
    state_->buffer.pop_front();
    return event;
  }
  // Events lost because the buffer was full.
  std::uint64_t dropped() const {
    std::lock_guard lock(state_->mutex);
    return state_->dropped;
  }
  bool closed() const {
    std::lock_guard lock(state_->mutex);
    return state_->closed;
  }
  // Ends delivery; events already buffered can still be read.
  void close() { state_->close(); }

 private:
  std::shared_ptr<detail::SubscriptionState<E>> state_;
};

}  // namespace delta

DELTA_PUBLIC_END
