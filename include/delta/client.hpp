// delta::Client — one process's connection to delta.
//
// A Client informs delta about objects, works the resources of the kinds it has
// controllers for in the namespaces it is configured for, runs its job queues, and takes
// part in electing the leader that runs maintenance — against a database shared with any
// number of other processes.
//
//   delta::Config config;
//   config.controllers.add(std::make_shared<UserController>());
//   config.namespaces["default"] = {.max_workers = 10};
//   delta::Client client(pool, config);   // validates config, throws ConfigError
//   client.start();                        // refuses an unmigrated schema (SchemaError)
//   client.inform(User{"bob@hello.com", "Bob"});
//   client.stop(std::chrono::seconds(10)); // also done by the destructor
//
// A client with no namespaces is inform-only: it can inform and insert jobs but works
// no resources.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <delta/controller.hpp>
#include <delta/events.hpp>
#include <delta/export.hpp>
#include <delta/hooks.hpp>
#include <delta/jobs.hpp>
#include <delta/log.hpp>
#include <delta/metrics.hpp>
#include <delta/namespace.hpp>
#include <delta/object.hpp>
#include <delta/pg.hpp>
#include <delta/resource.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

using std::chrono::milliseconds;

struct Config {
  // ---- general ----
  // PostgreSQL schema holding delta's tables (see delta::migrate).
  std::string schema = "delta";
  // This client's id in the database (heartbeats, leases); default "<host>-<pid>-<random>".
  std::string id{};
  // Where delta's log records go; default: info and above to stderr as text with
  // key=value fields (json_logger() for JSON lines; see delta/log.hpp).
  Logger logger{};
  // Called around every work attempt, informer run and job attempt, e.g. for tracing
  // (see delta/hooks.hpp). Null entries are a ConfigError.
  std::vector<std::shared_ptr<Hooks>> hooks{};
  // Fallback poll for new work when no notification arrives (default 1 s).
  milliseconds poll_interval{1000};

  // ---- resources ----
  // The controllers this client can run, one per kind.
  Controllers controllers{};
  // The namespaces this client works. Empty: an inform-only client.
  std::map<std::string, NamespaceConfig> namespaces{};
  // How long one work() call may run unless the controller says otherwise (default
  // 1 min; negative = no timeout).
  milliseconds work_timeout{std::chrono::minutes(1)};
  // How long one informer run may take unless the controller says otherwise (default
  // 10 min; negative = no timeout).
  milliseconds inform_timeout{std::chrono::minutes(10)};
  // A claimed resource's lease lasts its work timeout plus this; a pending resource
  // whose lease ran out is rescued even if its client still heartbeats (default 1 min).
  milliseconds stuck_threshold{std::chrono::minutes(1)};
  // Resources of a kind claimed ahead of its free workers, so that claims come in batches
  // (default 32; 0 = claim only for idle workers). They wait in this client, leased to
  // it, while the kind's workers are busy.
  int resource_prefetch = 32;
  // Claim statements of one namespace in flight at once (default 2, 1 .. 16): while one
  // waits for its commit, another claims once half the namespace's slots are free.
  int resource_claimers = 2;
  // Fair namespaces (docs/flow-control.md): when several namespaces have resources of a
  // kind due, this process shares the kind's slots between them by NamespaceConfig::weight,
  // so that one namespace's backlog does not hold another's work back. false: first come,
  // first served.
  bool fair_namespaces = true;
  // Delay before retrying a failed resource; default polynomial_backoff().
  ResourceBackoff resource_backoff{};
  // How often informers run unless a kind's settings() say otherwise (default 1 h;
  // negative = never periodically), and the random delay added to each run (default up
  // to 1 min; negative = none).
  milliseconds inform_interval{std::chrono::hours(1)};
  milliseconds inform_jitter{std::chrono::minutes(1)};
  // How often a running informer run reports its progress — objects emitted and written
  // so far — in the log, in delta_informer_run_objects and to Hooks::inform_progress
  // (default 5 s; 0 = never while it runs).
  milliseconds inform_progress_interval{5000};
  // How often the leader runs resource maintenance: expiry and inform
  // scheduling (default 1 min); and the cleaner (default 15 min).
  milliseconds maintenance_interval{std::chrono::minutes(1)};
  milliseconds cleaner_interval{std::chrono::minutes(15)};
  // Defaults for namespaces: synced resources expire after resource_expiry (default 0 =
  // never); synced / deleted / degraded resources are removed after these (24 h each).
  milliseconds resource_expiry{0};
  milliseconds synced_retention{std::chrono::hours(24)};
  milliseconds deleted_retention{std::chrono::hours(24)};
  milliseconds degraded_retention{std::chrono::hours(24)};
  // Outcomes of work are written in batches of at most completer_batch_size, no later
  // than completer_flush_interval after the first is ready (shared with the job queue).

  // ---- job queue ----
  jobs::Workers workers{};
  // Queues this client works, with their limits. Empty: an insert-only client.
  std::map<std::string, jobs::QueueConfig> queues{};
  std::vector<jobs::PeriodicJob> periodic_jobs{};
  // How long a job may run unless its worker says otherwise (default 1 min; negative =
  // no timeout).
  milliseconds job_timeout{std::chrono::minutes(1)};
  // Retry delay after a failed attempt; default jobs::exponential_backoff().
  std::shared_ptr<jobs::RetryPolicy> retry_policy{};
  // Finished jobs older than these are deleted by the leader's cleaner.
  milliseconds completed_job_retention{std::chrono::hours(24)};
  milliseconds cancelled_job_retention{std::chrono::hours(24)};
  milliseconds discarded_job_retention{std::chrono::hours(24 * 7)};
  // Outcomes are written in batches: at most this many per statement (default 500)...
  int completer_batch_size = 500;
  // ...and no later than this after the first one is ready (default 2 ms).
  milliseconds completer_flush_interval{2};
  // At most one wake-up notification per queue per this interval from one process's
  // inserts (default 10 ms); a trailing notification follows a suppressed one.
  milliseconds notify_rate_limit{10};

  // ---- processes and leadership ----
  // How often this client records that it is alive (default 5 s).
  milliseconds heartbeat_interval{5000};
  // A client whose last heartbeat is older than this is presumed dead; its running jobs
  // are rescued (default 15 s).
  milliseconds client_ttl{15000};
  // The leader's lease (default 15 s), renewed every leader_renew_interval (default 5 s).
  milliseconds leader_ttl{15000};
  milliseconds leader_renew_interval{5000};
  // How often the leader counts the resources and jobs of the whole cluster for the
  // gauges delta_resources, delta_resources_due, delta_resources_lag_seconds,
  // delta_queue_depth, delta_jobs_due and delta_queue_lag_seconds (default 5 s; one query
  // reading every row, on the leader only; 0 turns them off).
  milliseconds cluster_metrics_interval{5000};
  // How often the leader makes due scheduled/retryable jobs available (default 1 s).
  milliseconds scheduler_interval{1000};
  // How often the leader looks for jobs to rescue (default 5 s); a job still running
  // rescue_margin (default 1 min) after its timeout is rescued even if its client is alive.
  milliseconds rescuer_interval{5000};
  milliseconds rescue_margin{std::chrono::minutes(1)};
  // How often the leader deletes finished jobs past retention (default 1 min).
  milliseconds job_cleaner_interval{std::chrono::minutes(1)};

  // ---- testing ----
  // The clock used for scheduling decisions. Empty (the default) uses the database's
  // now(), which keeps every process on one clock. Tests inject a fake clock here.
  std::function<Timestamp()> clock{};
};

// What a liveness or readiness probe asks of a client (Client::health()).
struct Health {
  bool alive = false;  // started and not stopped: its background threads run
  // Alive, and its heartbeat or election reached the database within the last two
  // heartbeat intervals (Config::heartbeat_interval; the schema was checked at start).
  bool ready = false;
  // Since this client last reached the database; unset before it first has.
  std::optional<milliseconds> since_database{};
  std::string reason{};  // why it is not ready; empty when it is
};

class Client {
 public:
  // Validates `config` (every problem reported at once in a ConfigError). Does not touch
  // the database. The config is copied; the caller's is never changed.
  Client(std::shared_ptr<pg::Pool> pool, Config config);
  // Stops (with a grace of 10 s) if running.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Checks the schema version (SchemaError if unmigrated or too new), registers this
  // client, and starts its background threads. Throws if already started.
  void start();
  // Stops fetching work, waits up to `grace` for running work, then asks it to stop;
  // work still running is released for another process. Idempotent; blocks until the
  // background threads have ended.
  void stop(milliseconds grace = std::chrono::seconds(10));

  // ---- inform ----
  // Tells delta about `object`: a new object is stored and scheduled; changed content
  // (canonical-JSON hash differs, or compare() > 0) bumps the generation and schedules
  // it; unchanged content is not written; an object compare() says is older than the
  // stored one is ignored. An explicit inform resurrects a deleted resource. Committed
  // before it returns. Throws ValidationError (nothing written) for a bad id, namespace,
  // tag, metadata or max_attempts, or a kind no controller is registered for (in this
  // process or, by another process, in the database); DatabaseError. Thread-safe.
  template <Object T>
  InformResult inform(const T& object, const InformOpts& opts = {}) {
    return inform_object(nullptr, detail::describe(object, opts));
  }
  // As inform(), inside the caller's transaction: it takes effect if and only if `tx`
  // commits (workers are woken when it does).
  template <Object T>
  InformResult inform_tx(pg::Transaction& tx, const T& object, const InformOpts& opts = {}) {
    return inform_object(&tx, detail::describe(object, opts));
  }
  // Informs many objects of one kind in one statement (thousands per call are fine).
  // When the batch holds the same object id twice, the later object wins. All objects
  // are validated before anything is written.
  template <Object T>
  InformManyResult inform_many(std::span<const T> objects, const InformOpts& opts = {}) {
    std::vector<detail::ObjectData> data;
    data.reserve(objects.size());
    for (const auto& object : objects)
      data.push_back(detail::describe(object, opts));
    return inform_objects(nullptr, data);
  }
  template <Object T>
  InformManyResult inform_many(const std::vector<T>& objects, const InformOpts& opts = {}) {
    return inform_many(std::span<const T>(objects), opts);
  }
  template <Object T>
  InformManyResult inform_many_tx(pg::Transaction& tx, std::span<const T> objects,
                                  const InformOpts& opts = {}) {
    std::vector<detail::ObjectData> data;
    data.reserve(objects.size());
    for (const auto& object : objects)
      data.push_back(detail::describe(object, opts));
    return inform_objects(&tx, data);
  }

  // Runs the informer of `kind` as soon as a client with that controller is free (an
  // informer job; a run already waiting with the same options is not duplicated).
  // Throws ValidationError for an unknown kind.
  jobs::InsertResult schedule_inform(const ScheduleInformOpts& opts);
  // The last informer run of `kind` in this client, if any.
  std::optional<InformRun> last_inform_run(std::string_view kind) const;

  // ---- resources ----
  // The stored resource of `T` with id `id`; throws NotFound.
  template <Object T>
  Resource<T> get(std::string_view id) {
    ResourceRow row = get_resource(T::kind, id);
    T object = row.object.template get<T>();
    return Resource<T>{std::move(object), std::move(row)};
  }
  ResourceRow get_resource(std::string_view kind, std::string_view id);
  // A synced resource becomes expired: it is worked again. Returns the row; throws
  // NotFound when there is no such resource, ValidationError when it is not synced.
  template <Object T>
  ResourceRow invalidate(const T& object) {
    return invalidate_resource(T::kind, object.id());
  }
  ResourceRow invalidate_resource(std::string_view kind, std::string_view id);
  // A failed or degraded resource is scheduled now with its attempts reset. Throws
  // NotFound, or ValidationError when it is in another state.
  template <Object T>
  ResourceRow retry(std::string_view id) {
    return retry_resource(T::kind, id);
  }
  ResourceRow retry_resource(std::string_view kind, std::string_view id);

  // Events of work outcomes (all categories when `categories` is empty), delivered after
  // they are committed through a buffer of `capacity`; a full buffer drops (and counts)
  // events and never blocks workers. Thread-safe.
  Subscription<Event> subscribe(std::vector<EventCategory> categories = {},
                                std::size_t capacity = 1024);

  jobs::Jobs& jobs();
  const std::string& id() const noexcept;
  const Config& config() const noexcept;
  pg::Pool& pool() const noexcept;
  // Whether this client currently holds the leadership.
  bool is_leader() const noexcept;
  // What this client has counted since it was built (reconciles, informs, informer runs,
  // jobs, claims) and gauges of now (work in flight, the pool, the leadership); see
  // <delta/metrics.hpp> and docs/observability.md. No database query. Thread-safe.
  std::vector<MetricFamily> metrics() const;
  // Whether this client runs and reaches the database, for /healthz and /readyz (no
  // database query: it reads what the heartbeat last saw). Thread-safe.
  Health health() const;

 private:
  InformResult inform_object(pg::Transaction* tx, detail::ObjectData object);
  InformManyResult inform_objects(pg::Transaction* tx, std::vector<detail::ObjectData>& objects);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delta

DELTA_PUBLIC_END
