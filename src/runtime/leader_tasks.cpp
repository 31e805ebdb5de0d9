#include "runtime/leader_tasks.hpp"

#include <algorithm>

#include <delta/errors.hpp>

namespace delta::runtime {

LeaderTasks::LeaderTasks(Context& ctx, std::function<bool()> is_leader)
    : ctx_(ctx), is_leader_(std::move(is_leader)) {}

void LeaderTasks::add(const std::string& lane, std::string name, std::chrono::milliseconds interval,
                      std::function<void()> run) {
  auto it = std::find_if(lanes_.begin(), lanes_.end(),
                         [&](const auto& existing) { return existing->name == lane; });
  if (it == lanes_.end()) {
    lanes_.push_back(std::make_unique<Lane>());
    lanes_.back()->name = lane;
    it = lanes_.end() - 1;
  }
  if ((*it)->thread.joinable()) throw Error("LeaderTasks::add after start()");
  (*it)->tasks.add(std::move(name), interval, std::move(run));
}

void LeaderTasks::start(const std::string& lane) {
  for (auto& candidate : lanes_) {
    if (candidate->name != lane || candidate->thread.joinable()) continue;
    Lane* raw = candidate.get();
    candidate->thread = std::jthread([this, raw](std::stop_token stop) { loop(*raw, stop); });
  }
}

void LeaderTasks::stop() {
  for (auto& lane : lanes_)
    lane->thread.request_stop();
  changed_.notify_all();
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

void LeaderTasks::wake() {
  {
    std::lock_guard lock(mutex_);
    ++elections_;
  }
  changed_.notify_all();
}

void LeaderTasks::loop(Lane& lane, std::stop_token stop) {
  using Clock = TaskList::Clock;
  bool was_leader = false;
  while (!stop.stop_requested()) {
    std::uint64_t seen = 0;
    {
      std::lock_guard lock(mutex_);
      seen = elections_;
    }
    const bool leader = is_leader_();
    if (leader && !was_leader) lane.tasks.make_all_due();  // a new leader catches up at once
    was_leader = leader;
    if (leader) lane.tasks.run_due(stop, ctx_);
    // The leadership is looked at again at least every second.
    const auto recheck =
        Clock::now() + std::min<std::chrono::milliseconds>(ctx_.options.leader_renew_interval,
                                                           std::chrono::seconds(1));
    const auto next = leader ? lane.tasks.next_due(recheck) : recheck;
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, stop, next, [&] { return elections_ != seen; });
  }
}

}  // namespace delta::runtime
