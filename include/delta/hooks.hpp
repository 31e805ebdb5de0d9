// Hooks around the user code delta runs: each work attempt of a resource, each informer
// run and each job attempt. A hook is where tracing (OpenTelemetry, a company's tracer),
// custom metrics or audit logs plug in.
//
//   struct Tracing : delta::Hooks {
//     void work_started(const delta::WorkSpan& span) override { ...start a span... }
//     void work_finished(const delta::WorkSpan& span, const delta::SpanEnd& end) override {
//       ...end it with end.result, end.error, end.duration...
//     }
//   };
//   config.hooks.push_back(std::make_shared<Tracing>());
//
// Both calls of a span happen on the thread that runs the user code, immediately before
// and after it, and nest (an informer run is itself a job: job_started, inform_started,
// ..., inform_finished, job_finished), so a tracer may keep the active span in a
// thread-local stack and the user code sees it as its parent. The span object is the same
// in both calls. Hooks run in the order given, and finish in the reverse order.
//
// Hooks must be thread-safe (several workers call them at once) and quick: they run on
// the worker's time. An exception from a hook is caught, logged and counted
// (delta_hook_errors_total); it changes nothing about the work.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include <delta/export.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

// One work attempt of a resource (Controller::work).
struct WorkSpan {
  std::string_view kind;
  std::string_view namespace_name;
  std::string_view object_id;
  std::int64_t resource_id = 0;
  std::int64_t generation = 0;
  int attempt = 0;  // 1 for the first
  Timestamp started_at{};
};

// One informer run (Controller::inform), from the first object to the last write.
struct InformSpan {
  std::string_view kind;
  bool process_existing = false;
  std::optional<Timestamp> after{};  // the cursor the run lists from (unset: everything)
  Timestamp started_at{};
};

// One job attempt (Worker::work). Informer runs are jobs of the "delta.inform:<kind>" kind
// in the "delta_informers" queue and are seen here too.
struct JobSpan {
  std::int64_t job_id = 0;
  std::string_view queue;
  std::string_view kind;
  int attempt = 0;  // 1 for the first
  Timestamp started_at{};
};

// How a span ended.
struct SpanEnd {
  // Work: synced, retry, degraded, removed, requeue_after, error (as the result label of
  // delta_reconcile_total). Informer runs: success, failure. Jobs: completed, failed,
  // cancelled, discarded, snoozed, released (given back at shutdown), as delta_jobs_total.
  std::string_view result;
  std::string_view error;  // the message of a failure ("" otherwise)
  std::chrono::nanoseconds duration{0};
};

// What an informer run has done so far.
struct InformProgress {
  std::int64_t emitted = 0;  // objects the informer emitted
  std::int64_t written = 0;  // of which written to the database (inserted + changed + ...)
  std::int64_t inserted = 0;
  std::int64_t changed = 0;
  std::int64_t unchanged = 0;
  std::int64_t stale = 0;
  std::chrono::nanoseconds elapsed{0};
};

class Hooks {
 public:
  virtual ~Hooks() = default;

  virtual void work_started(const WorkSpan&) {}
  virtual void work_finished(const WorkSpan&, const SpanEnd&) {}

  virtual void inform_started(const InformSpan&) {}
  // Every Config::inform_progress_interval while the run goes on (on the informer's
  // thread, between two objects it emits).
  virtual void inform_progress(const InformSpan&, const InformProgress&) {}
  virtual void inform_finished(const InformSpan&, const SpanEnd&) {}

  virtual void job_started(const JobSpan&) {}
  virtual void job_finished(const JobSpan&, const SpanEnd&) {}
};

}  // namespace delta

DELTA_PUBLIC_END
