// The leader's job maintenance: the scheduler (due scheduled and retryable jobs become
// available), the rescuer (jobs of dead clients or past their timeout), the cleaner
// (finished jobs past retention, clients long gone) and periodic jobs (one insert per
// period across every process).
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "jobs/context.hpp"
#include "runtime/elector.hpp"
#include "runtime/leader_tasks.hpp"

namespace delta::jobs {

class Maintenance {
 public:
  // The lane of the leader's loop the job tasks run in.
  static constexpr std::string_view kLane = "jobs";

  explicit Maintenance(JobsContext& ctx) : ctx_(ctx) {}
  // Adds the tasks to the leader's loop (lane "jobs"); periodic schedules are recorded
  // again after each election.
  void register_tasks(runtime::LeaderTasks& tasks, runtime::Elector& elector);

  // One pass of each task; each returns how many rows it moved, deleted or inserted.
  std::int64_t run_scheduler();
  std::int64_t run_rescuer();
  std::int64_t run_cleaner();
  std::int64_t run_periodic();

 private:
  JobsContext& ctx_;
  std::atomic<bool> periodic_ensured_{false};  // schedules recorded since becoming leader
};

}  // namespace delta::jobs
