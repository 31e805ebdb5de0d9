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
#include "runtime/task_list.hpp"

namespace delta::runtime {

class LeaderTasks {
 public:
  // `is_leader()` says whether this process holds the leadership now (Elector::is_leader).
  LeaderTasks(Context& ctx, std::function<bool()> is_leader);
  ~LeaderTasks() { stop(); }
  LeaderTasks(const LeaderTasks&) = delete;
  LeaderTasks& operator=(const LeaderTasks&) = delete;

  // Before the lane starts: adds `run` to lane `lane` (created on first use), every
  // `interval`.
  void add(const std::string& lane, std::string name, std::chrono::milliseconds interval,
           std::function<void()> run);
  // Before the runtime starts: lane `lane` starts with the runtime (start_early), before
  // any engine starts, because its tasks touch nothing of their engine but the database.
  // A new leader then catches up while the client is still starting.
  void start_with_runtime(const std::string& lane);
  // Starts the lanes marked start_with_runtime (the runtime calls this once elected or
  // electing).
  void start_early();
  // Starts lane `lane` (its engine calls this once what the tasks touch is running); a
  // lane already started or without tasks is left as it is.
  void start(const std::string& lane);
  // Ends every lane's thread (a task running now finishes first).
  void stop();
  // This process was just elected: every lane looks at once (and runs all its tasks).
  void wake();

 private:
  struct Lane {
    std::string name;
    bool early = false;
    TaskList tasks;
    std::jthread thread;
  };
  Lane& lane(const std::string& name);
  void launch(Lane& lane);
  void loop(Lane& lane, std::stop_token stop);

  Context& ctx_;
  std::function<bool()> is_leader_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // set before start
  std::mutex mutex_;
  std::condition_variable_any changed_;
  std::uint64_t elections_ = 0;  // guarded by mutex_: bumped when this process is elected
};

}  // namespace delta::runtime
