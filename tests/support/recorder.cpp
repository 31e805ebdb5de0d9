#include "support/recorder.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace delta::testing {

int Recorder::enter(const Seen& seen) {
  int run = 0;
  {
    std::lock_guard lock(mutex_);
    seen_.push_back(seen);
    peak_ = std::max(peak_, ++running_);
    ++started_;
    run = ++runs_[seen.key];
  }
  changed_.notify_all();
  return run;
}

void Recorder::leave() {
  std::lock_guard lock(mutex_);
  --running_;
}

void Recorder::hold(int target) {
  {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(3),
                      [&] { return running_ >= target || started_ >= goal_; });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

void Recorder::set_goal(int goal) {
  std::lock_guard lock(mutex_);
  goal_ = goal;
}

int Recorder::runs(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = runs_.find(key);
  return found == runs_.end() ? 0 : found->second;
}

int Recorder::total() const {
  std::lock_guard lock(mutex_);
  return started_;
}

int Recorder::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

int Recorder::peak() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

std::vector<Seen> Recorder::seen(const std::string& key) const {
  std::lock_guard lock(mutex_);
  std::vector<Seen> out;
  for (const auto& s : seen_) {
    if (s.key == key) out.push_back(s);
  }
  return out;
}

}  // namespace delta::testing
