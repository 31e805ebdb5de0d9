#include "runtime/leader_tasks.hpp"

#include <algorithm>

#include <delta/errors.hpp>

namespace delta::runtime {

LeaderTasks::LeaderTasks(Context& ctx, std::function<bool()> is_leader)
    : ctx_(ctx), is_leader_(std::move(is_leader)) {}

LeaderTasks::Lane& LeaderTasks::lane(const std::string& name) {
  auto it = std::find_if(lanes_.begin(), lanes_.end(),
                         [&](const auto& existing) { return existing->name == name; });
  if (it != lanes_.end()) return **it;
  lanes_.push_back(std::make_unique<Lane>());
  lanes_.back()->name = name;
  return *lanes_.back();
}

void LeaderTasks::add(const std::string& lane_name, std::string name,
                      std::chrono::milliseconds interval, std::function<void()> run) {
  Lane& target = lane(lane_name);
  if (target.thread.joinable()) throw Error("LeaderTasks::add after the lane started");
  target.tasks.add(std::move(name), interval, std::move(run));
}

void LeaderTasks::start_with_runtime(const std::string& lane_name) {
  lane(lane_name).early = true;
}

void LeaderTasks::start_early() {
  for (auto& candidate : lanes_) {
    if (candidate->early) launch(*candidate);
  }
}

void LeaderTasks::start(const std::string& lane_name) {
  for (auto& candidate : lanes_) {
    if (candidate->name == lane_name) launch(*candidate);
  }
}

void LeaderTasks::launch(Lane& target) {
  if (target.thread.joinable() || target.tasks.empty()) return;
  target.thread = std::jthread([this, &target](std::stop_token stop) { loop(target, stop); });
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
