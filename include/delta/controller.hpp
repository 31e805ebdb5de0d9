// Controllers: the code that keeps one kind of object in step.
//
// A controller has a worker (`work`, required) that reconciles one resource, and
// optionally an informer (`inform`) that lists objects from the outside system.
//
//   class UserController : public delta::Controller<User> {
//    public:
//     delta::WorkResult work(delta::WorkContext& ctx, const delta::Resource<User>& r) override {
//       if (!crm.upsert(r.object)) return delta::retry("crm unavailable");
//       return delta::synced();
//     }
//   };
//   delta::Controllers controllers;
//   controllers.add(std::make_shared<UserController>());
//
// work() runs on a worker thread of the client, at most settings().parallelism at a time
// per kind in one process; several resources of a kind run concurrently, so a controller
// must be thread-safe. An exception thrown from work() is a failed attempt recording the
// exception's type and message.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <delta/attempt.hpp>
#include <delta/errors.hpp>
#include <delta/export.hpp>
#include <delta/log.hpp>
#include <delta/object.hpp>
#include <delta/resource.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

class Client;

// What work() decided. Make one with synced(), retry(), remove() or requeue_after().
namespace detail {
enum class WorkOutcome { synced, retry, remove, requeue };
}

class WorkResult : public detail::Decision<detail::WorkOutcome> {
 public:
  // outcome(); message(): retry: the error recorded; remove: the reason.
  // requeue: how long until the resource is worked again.
  std::chrono::milliseconds delay() const noexcept { return duration(); }

 private:
  friend WorkResult synced();
  friend WorkResult retry(std::string message);
  friend WorkResult remove(std::string reason);
  friend WorkResult requeue_after(std::chrono::milliseconds delay);
  using Decision::Decision;
};

// The resource is in step: it becomes synced (or is worked again at once if its content
// changed meanwhile).
WorkResult synced();
// A failed attempt: the resource is retried after the backoff, or degraded once it has
// failed max_attempts times.
WorkResult retry(std::string message);
// The object is gone: the resource is soft-deleted (cleaned after the namespace's
// deleted retention).
WorkResult remove(std::string reason = {});
// Work the resource again after `delay`; not a failure (the attempt is given back).
WorkResult requeue_after(std::chrono::milliseconds delay);

// Given to Controller::work.
class WorkContext : public detail::RunContext {
 public:
  using RunContext::RunContext;
};

// Given to Controller::inform.
class InformContext : public detail::RunContext {
 public:
  using RunContext::RunContext;
};

// What an informer run should list.
struct InformOptions {
  std::map<std::string, std::string> labels{};
  // Only objects created after this (the kind's cursor); unset: everything.
  std::optional<Timestamp> after{};
  int limit = 0;  // 0: no limit
  std::string order_by{};
  // Set by schedule_inform(process_existing): unchanged objects are worked again too.
  bool process_existing = false;
};

namespace detail {
// Where an informer's objects go (the engine's batch writer).
class SinkBackend {
 public:
  virtual ~SinkBackend() = default;
  // False once the run is cancelled (timeout or stop).
  virtual bool emit(ObjectData object) = 0;
};
// Thrown by Controller::inform when the controller has no informer.
struct NoInformer {};
}  // namespace detail

// Receives an informer's objects; they are written in batches.
template <Object T>
class InformSink {
 public:
  explicit InformSink(detail::SinkBackend& backend) : backend_(backend) {}
  // Queues `object` for writing. Returns false once the run is cancelled: stop emitting.
  // Throws ValidationError for an object delta cannot store (bad id, ...).
  bool emit(const T& object) { return backend_.emit(detail::describe(object, InformOpts{})); }

 private:
  detail::SinkBackend& backend_;
};

// Use the client's default (Config::work_timeout / Config::inform_timeout).
inline constexpr std::chrono::milliseconds kDefaultTimeout{0};

// The type-erased controller the engine runs. Derive from Controller<T>, not from this.
class ControllerBase {
 public:
  virtual ~ControllerBase() = default;
  virtual std::string_view kind() const noexcept = 0;
  virtual ObjectSettings settings() const = 0;
  virtual std::chrono::milliseconds inform_timeout() const { return kDefaultTimeout; }

  // A resource of this kind, parsed and ready to work.
  class Prepared {
   public:
    virtual ~Prepared() = default;
    virtual std::chrono::milliseconds timeout() const = 0;
    virtual WorkResult work(WorkContext& ctx) = 0;
    virtual const ResourceRow& row() const = 0;
  };
  // Parses the stored object; throws (nlohmann::json::exception) when it does not parse.
  virtual std::unique_ptr<Prepared> prepare(ResourceRow row) = 0;
  // Runs the informer; throws detail::NoInformer when there is none.
  virtual void run_inform(InformContext& ctx, const InformOptions& options,
                          detail::SinkBackend& sink) = 0;
};

template <Object T>
class Controller : public ControllerBase {
 public:
  // Reconciles one resource. Called with the resource claimed (state pending); no
  // database transaction is open while it runs.
  virtual WorkResult work(WorkContext& ctx, const Resource<T>& resource) = 0;
  // Lists objects from the outside system into `out` (optional). Objects are written in
  // batches while the run goes on; a throw ends the run as failed (what was written stays).
  virtual void inform(InformContext& /*ctx*/, const InformOptions& /*options*/,
                      InformSink<T>& /*out*/) {
    throw detail::NoInformer{};
  }
  // How long one work() call may run: kDefaultTimeout uses Config::work_timeout; a
  // negative value means no timeout. At the deadline the context's stop token is set;
  // work() should return soon. What it then returns still counts (synced() after the
  // deadline is synced), while an exception or retry() is recorded as a timeout. Work
  // that ignores the token past its lease (timeout + Config::stuck_threshold) is rescued,
  // and its late outcome is discarded.
  virtual std::chrono::milliseconds work_timeout(const Resource<T>& /*resource*/) const {
    return kDefaultTimeout;
  }
  // How long one informer run may take (same conventions, Config::inform_timeout).
  std::chrono::milliseconds inform_timeout() const override { return kDefaultTimeout; }

  std::string_view kind() const noexcept final { return T::kind; }
  ObjectSettings settings() const final { return detail::settings_of<T>(); }

  std::unique_ptr<Prepared> prepare(ResourceRow row) final {
    static_assert(detail::check_hooks<T>());
    // Braced initialisation runs left to right: the object is parsed before the row moves.
    return std::make_unique<PreparedT>(*this,
                                       Resource<T>{row.object.template get<T>(), std::move(row)});
  }
  void run_inform(InformContext& ctx, const InformOptions& options,
                  detail::SinkBackend& sink) final {
    InformSink<T> out(sink);
    inform(ctx, options, out);
  }

 private:
  struct PreparedT : Prepared {
    PreparedT(Controller& owner, Resource<T> parsed)
        : controller(owner), resource(std::move(parsed)) {}
    std::chrono::milliseconds timeout() const override { return controller.work_timeout(resource); }
    WorkResult work(WorkContext& ctx) override { return controller.work(ctx, resource); }
    const ResourceRow& row() const override { return resource.row; }
    Controller& controller;
    Resource<T> resource;
  };
};

// What one informer run did (Client::last_inform_run).
struct InformRun {
  std::string kind;
  Timestamp started_at;
  Timestamp finished_at;
  bool succeeded = false;
  std::string error;        // why it failed (succeeded == false)
  std::size_t emitted = 0;  // objects the informer emitted
  std::size_t batches = 0;  // write statements
  std::size_t inserted = 0;
  std::size_t changed = 0;
  std::size_t unchanged = 0;
  std::size_t stale = 0;
  std::size_t skipped_deleted = 0;  // deleted resources an informer does not resurrect
  std::optional<Timestamp> cursor;  // the kind's cursor after the run
};

// The controllers a client runs, one per kind.
class Controllers {
 public:
  // Registers `controller`. Throws ConfigError for a null controller, an invalid kind or
  // a kind registered twice.
  Controllers& add(std::shared_ptr<ControllerBase> controller);
  // The controller of `kind`, or nullptr.
  std::shared_ptr<ControllerBase> find(std::string_view kind) const;
  std::vector<std::string> kinds() const;
  bool empty() const noexcept { return controllers_.empty(); }
  std::size_t size() const noexcept { return controllers_.size(); }

 private:
  std::vector<std::shared_ptr<ControllerBase>> controllers_;
};

// A hand-triggered informer run (Client::schedule_inform).
struct ScheduleInformOpts {
  std::string kind{};
  // Work every listed object again, even unchanged ones (and list from the beginning,
  // ignoring the cursor).
  bool process_existing = false;
  // labels / limit / order_by passed to the informer (`after` is set by delta).
  InformOptions options{};
};

// The job queue on which informer runs are jobs (reserved; created for clients with
// controllers, with one worker per controller).
inline constexpr std::string_view kInformQueue = "delta_informers";

}  // namespace delta

DELTA_PUBLIC_END
