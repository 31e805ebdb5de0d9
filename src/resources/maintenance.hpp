// The leader's resource maintenance: the rescuer (pending resources whose lease ran out
// or whose client died), the inform scheduler (an informer job per kind whose interval
// passed), the expirer (synced resources past their namespace's expiry TTL) and the
// cleaner (resources past retention).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "jobs/engine.hpp"
#include "resources/context.hpp"
#include "runtime/leader_tasks.hpp"

namespace delta::resources {

class Maintenance {
 public:
  // The lane of the leader's loop the resource tasks run in.
  static constexpr std::string_view kLane = "resources";

  // `wake_all()`: resources became runnable (wake every runner of this process).
  Maintenance(ResourcesContext& ctx, jobs::JobsEngine& jobs, std::function<void()> wake_all)
      : ctx_(ctx), jobs_(jobs), wake_all_(std::move(wake_all)) {}
  // Adds the tasks to the leader's loop (lane "resources").
  void register_tasks(runtime::LeaderTasks& tasks);

  // One pass of each task; each returns how many rows it moved, inserted or deleted.
  std::int64_t run_rescuer();
  std::int64_t run_inform_scheduler();
  std::int64_t run_expirer(std::chrono::milliseconds budget);
  std::int64_t run_cleaner(std::chrono::milliseconds budget);

 private:
  ResourcesContext& ctx_;
  jobs::JobsEngine& jobs_;
  std::function<void()> wake_all_;
};

}  // namespace delta::resources
