// Informer runs: each is a job on the reserved informer queue (kInformQueue), run by an
// InformWorker of its kind. A run lists objects from the controller's informer, writes
// them in batches (several in flight) and moves the kind's cursor over what was written.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <delta/controller.hpp>
#include <delta/jobs.hpp>

#include "jobs/engine.hpp"
#include "resources/context.hpp"
#include "resources/inform_writer.hpp"

namespace delta::resources {

class Informers;

// Lets the informer job workers (registered with the job queue before the resource
// engine exists) find the engine's informers.
struct InformerLink {
  std::atomic<Informers*> informers{nullptr};
};

// The job kind of `kind`'s informer runs: "delta.inform:<kind>".
std::string inform_job_kind(std::string_view kind);

// The informer job of `kind` with `args` (unique while waiting or running), due at `at`
// (unset: now).
jobs::JobInsert inform_job(const std::string& kind, nlohmann::json args,
                           std::optional<Timestamp> at);

// Runs informer jobs of one kind.
class InformWorker final : public jobs::WorkerBase {
 public:
  InformWorker(std::shared_ptr<InformerLink> link, std::shared_ptr<ControllerBase> controller,
               std::chrono::milliseconds default_timeout);
  std::string_view kind() const noexcept override { return job_kind_; }
  std::chrono::milliseconds timeout() const override;
  jobs::JobResult run(jobs::JobContext& ctx, const jobs::JobRow& row) override;

 private:
  std::shared_ptr<InformerLink> link_;
  std::shared_ptr<ControllerBase> controller_;
  std::string job_kind_;
  std::chrono::milliseconds default_timeout_;
};

class Informers {
 public:
  Informers(ResourcesContext& ctx, InformWriter& writer, jobs::JobsEngine& jobs);

  // One informer run for an inform job (args: process_existing, labels, limit, order_by).
  jobs::JobResult run(jobs::JobContext& job, const std::string& kind, const nlohmann::json& args);
  // Inserts an informer job for a hand-triggered run (Client::schedule_inform).
  jobs::InsertResult schedule(const ScheduleInformOpts& opts);
  // The last run of `kind` in this process.
  std::optional<InformRun> last_run(std::string_view kind) const;

 private:
  ResourcesContext& ctx_;
  InformWriter& writer_;
  jobs::JobsEngine& jobs_;
  mutable std::mutex runs_mutex_;
  std::map<std::string, InformRun, std::less<>> runs_;  // guarded by runs_mutex_
};

}  // namespace delta::resources
