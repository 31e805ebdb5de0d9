// The job queue inside one client: the public operations of client.jobs(), a runner per
// queue, the completer, the watchdog, and the leader's job maintenance.
//
// Stop order (stop): runners stop fetching and release what they fetched but did not
// start -> running jobs get the grace period -> their stop tokens are signalled -> what
// still runs is released -> worker threads end -> the completer flushes -> the watchdog
// ends -> subscriptions are closed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <delta/jobs.hpp>

#include "jobs/completer.hpp"
#include "jobs/context.hpp"
#include "jobs/maintenance.hpp"
#include "jobs/options.hpp"
#include "jobs/queue_runner.hpp"
#include "runtime/runtime.hpp"
#include "runtime/service.hpp"
#include "runtime/watchdog.hpp"

namespace delta::jobs {

class JobsEngine final : public runtime::Service {
 public:
  // Registers its channels and leader tasks with `runtime`; `options` must have passed
  // check().
  JobsEngine(runtime::Runtime& runtime, const Options& options);
  ~JobsEngine() override;

  InsertResult insert(const JobInsert& job);
  InsertResult insert_tx(pg::Transaction& tx, const JobInsert& job);
  std::vector<InsertResult> insert_many(std::span<const JobInsert> jobs);
  std::vector<InsertResult> insert_many_tx(pg::Transaction& tx, std::span<const JobInsert> jobs);
  // Inserts one of delta's own jobs (e.g. an informer run, whose kind is outside the
  // user's name space) on `conn`, announcing it when `conn`'s transaction commits. The
  // job is built valid by the engine that owns its kind; nothing is checked here.
  InsertResult insert_own(pg::Connection& conn, const JobInsert& job);
  JobRow get(std::int64_t id);
  JobRow cancel(std::int64_t id);
  JobRow retry(std::int64_t id);
  void set_paused(std::string_view queue, bool paused);
  Subscription<JobEvent> subscribe(std::vector<JobEventKind> kinds, std::size_t capacity);

  void start() override;
  void stop(std::chrono::milliseconds grace) override;
  bool running() const noexcept { return started_ && !stopped_; }
  JobsContext& context() noexcept { return ctx_; }
  Maintenance& maintenance() noexcept { return maintenance_; }

 private:
  void wake_queue(const std::string& queue);

  runtime::Runtime& runtime_;
  JobsContext ctx_;
  runtime::Watchdog watchdog_;
  Completer completer_;
  Maintenance maintenance_;
  std::vector<std::unique_ptr<QueueRunner>> runners_;  // set by start()
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace delta::jobs
