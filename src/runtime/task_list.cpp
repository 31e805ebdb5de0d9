#include "runtime/task_list.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace delta::runtime {

void TaskList::add(std::string name, std::chrono::milliseconds interval, std::function<void()> run,
                   Clock::time_point first_due) {
  tasks_.push_back({std::move(name), interval, std::move(run), first_due, {}});
}

void TaskList::run_due(const std::stop_token& stop, const Context& ctx) {
  for (auto& task : tasks_) {
    if (stop.stop_requested()) return;
    if (task.due > Clock::now()) continue;
    try {
      task.run();
      task.backoff.succeeded();
      task.due = Clock::now() + task.interval;
    } catch (const std::exception& e) {
      auto pause = std::min(task.backoff.failed(), task.interval);
      task.due = Clock::now() + pause;
      ctx.count_error(task.name);
      ctx.log(LogLevel::warn,
              fmt::format("{} failed (retrying in {} ms): {}", task.name, pause.count(), e.what()),
              {{"task", task.name}, {"retry_in_ms", pause.count()}, {"error", e.what()}});
    }
  }
}

TaskList::Clock::time_point TaskList::next_due(Clock::time_point cap) const {
  auto next = cap;
  for (const auto& task : tasks_)
    next = std::min(next, task.due);
  return next;
}

void TaskList::make_due(std::size_t index) {
  tasks_.at(index).due = Clock::now();
}

void TaskList::make_all_due() {
  for (auto& task : tasks_)
    task.due = Clock::now();
}

}  // namespace delta::runtime
