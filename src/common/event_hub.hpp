// Fans events out to subscriptions, each filtered by a category field of the event.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include <delta/events.hpp>

namespace delta::internal {

template <class E, class Category, Category E::*kCategory>
class EventHub {
 public:
  Subscription<E> subscribe(std::vector<Category> categories, std::size_t capacity) {
    auto state =
        std::make_shared<delta::detail::SubscriptionState<E>>(std::max<std::size_t>(capacity, 1));
    std::lock_guard lock(mutex_);
    entries_.push_back({std::move(categories), state});
    any_ = true;
    return Subscription<E>(state);
  }

  void publish(const E& event) { publish_many(std::vector<E>{event}); }

  // Never blocks on a subscriber: a full subscription drops (and counts) the event.
  void publish_many(const std::vector<E>& events) {
    if (!any_ || events.empty()) return;
    std::lock_guard lock(mutex_);
    std::erase_if(entries_, [&](Entry& entry) {
      auto state = entry.state.lock();
      if (!state) return true;
      state->publish_many(events, [&](const E& event) {
        return entry.categories.empty() ||
               std::find(entry.categories.begin(), entry.categories.end(), event.*kCategory) !=
                   entry.categories.end();
      });
      return false;
    });
    any_ = !entries_.empty();
  }

  // True when nobody listens (publishers skip building events).
  bool empty() const { return !any_; }

  void close_all() {
    std::lock_guard lock(mutex_);
    for (auto& entry : entries_) {
      if (auto state = entry.state.lock()) state->close();
    }
    entries_.clear();
    any_ = false;
  }

 private:
  struct Entry {
    std::vector<Category> categories;
    std::weak_ptr<delta::detail::SubscriptionState<E>> state;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;  // guarded by mutex_
  std::atomic<bool> any_{false};
};

}  // namespace delta::internal
