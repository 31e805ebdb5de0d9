// Periodic tasks run by one thread: each runs when it is due, then again one interval
// later; a failing task logs, backs off (at most its interval) and is retried.
#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "common/backoff.hpp"
#include "runtime/context.hpp"

namespace delta::runtime {

class TaskList {
 public:
  using Clock = std::chrono::steady_clock;

  // Adds a task first due at `first_due`.
  void add(std::string name, std::chrono::milliseconds interval, std::function<void()> run,
           Clock::time_point first_due = Clock::now());
  // Runs every task that is due, in the order they were added, until `stop`.
  void run_due(const std::stop_token& stop, const Context& ctx);
  // When the next task is due, at the latest `cap`.
  Clock::time_point next_due(Clock::time_point cap) const;
  // Makes task `index` (or every task) due now.
  void make_due(std::size_t index);
  void make_all_due();
  bool empty() const noexcept { return tasks_.empty(); }

 private:
  struct Task {
    std::string name;
    std::chrono::milliseconds interval;
    std::function<void()> run;
    Clock::time_point due;
    internal::LoopBackoff backoff;
  };
  std::vector<Task> tasks_;
};

}  // namespace delta::runtime
