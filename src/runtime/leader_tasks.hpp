// The leader's periodic work, run by one loop for every engine.
//
// Engines register their tasks (rescuers, schedulers, cleaners, ...) before start(). The
// tasks run only while this process holds the leadership, all of them at once when it
// becomes the leader (it catches up on whatever the previous leader left), then each
// every interval; a failing task logs, backs off and is retried, and never ends the loop.
//
// Each engine's tasks form a lane with a thread of its own, running the same loop: a
// resource cleaner deleting for a minute must not hold up the job scheduler, whose
// interval is a second.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "runtime/context.hpp"
#include "runtime/elector.hpp"
#include "runtime/task_list.hpp"

namespace delta::runtime {

class LeaderTasks {
 public:
  LeaderTasks(Context& ctx, Elector& elector);
  ~LeaderTasks() { stop(); }
  LeaderTasks(const LeaderTasks&) = delete;
  LeaderTasks& operator=(const LeaderTasks&) = delete;

  // Before start(): adds `run` to lane `lane` (created on first use), every `interval`.
  void add(const std::string& lane, std::string name, std::chrono::milliseconds interval,
           std::function<void()> run);
  void start();
  void stop();

 private:
  struct Lane {
    std::string name;
    TaskList tasks;
    std::jthread thread;
  };
  void loop(Lane& lane, std::stop_token stop);
  void wake();

  Context& ctx_;
  Elector& elector_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // set before start
  std::mutex mutex_;
  std::condition_variable_any changed_;
  std::uint64_t elections_ = 0;  // guarded by mutex_: bumped when this process is elected
};

}  // namespace delta::runtime
