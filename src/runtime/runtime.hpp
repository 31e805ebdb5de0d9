// What every client process runs, whatever engines it has: the context, the elector,
// the notifier, the wake-up limiter and the leader's task loop. The engines are built on
// it and register their channels and leader tasks before start().
//
// Start order: start() registers the process (heartbeat), starts the election and
// LISTENs; then the engines start, each starting its lane of leader tasks once what they
// touch runs; then run() starts delivering notifications. Stop order: the engines stop; then stop()
// ends the leader's tasks, the notifier and the limiter, resigns the leadership and marks the
// process stopped.
#pragma once

#include <memory>

#include "runtime/cluster_gauges.hpp"
#include "runtime/context.hpp"
#include "runtime/elector.hpp"
#include "runtime/fence.hpp"
#include "runtime/leader_tasks.hpp"
#include "runtime/notifier.hpp"
#include "runtime/notify_limiter.hpp"
#include "runtime/options.hpp"
#include "runtime/process_store.hpp"

namespace delta::runtime {

class Runtime {
 public:
  // `options` must have passed check(); defaults are filled in here.
  Runtime(std::shared_ptr<pg::Pool> pool, const Options& options, Client* client);
  ~Runtime() { stop(); }
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  Context& context() noexcept { return ctx_; }
  const Context& context() const noexcept { return ctx_; }
  ProcessStore& store() noexcept { return store_; }
  Elector& elector() noexcept { return elector_; }
  Notifier& notifier() noexcept { return notifier_; }
  NotifyLimiter& notify_limiter() noexcept { return limiter_; }
  LeaderTasks& leader_tasks() noexcept { return leader_tasks_; }
  const ClusterGauges& cluster_gauges() const noexcept { return cluster_gauges_; }
  const Fence& fence() const noexcept { return fence_; }

  // Throws DatabaseError when the first heartbeat fails (nothing is left running).
  void start();
  void run();
  void stop();

 private:
  Context ctx_;
  Fence fence_;
  ProcessStore store_;
  Elector elector_;
  Notifier notifier_;
  NotifyLimiter limiter_;
  LeaderTasks leader_tasks_;
  ClusterGauges cluster_gauges_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace delta::runtime
