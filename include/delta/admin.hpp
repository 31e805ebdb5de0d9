// Operating delta: reads and bulk actions over resources, controllers, namespaces, jobs,
// queues and clients, for operators, the `delta` command and dashboards.
//
// An Admin needs only a pool and the schema name — no running Client — so a command-line
// tool or a web page can use it against a live database. Every read is bounded (a limit,
// a statement timeout); every bad argument is a ValidationError before anything is read
// or written; bulk actions run in batches of bounded transactions and wake the workers.
//
//   delta::Admin admin(pool, {.schema = "delta"});
//   auto page = admin.list_resources({.states = {delta::ResourceState::degraded}}, {.limit = 50});
//   auto result = admin.retry_resources({.kinds = {"user"},
//                                        .states = {delta::ResourceState::degraded}});
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <delta/export.hpp>
#include <delta/jobs.hpp>
#include <delta/pg.hpp>
#include <delta/rate_limit.hpp>
#include <delta/resource.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

struct AdminOptions {
  std::string schema = "delta";
  // The statement_timeout of every read and of each batch of a bulk action.
  std::chrono::milliseconds statement_timeout{10000};
  // A client whose last heartbeat is older than this is not live (as Config::client_ttl).
  std::chrono::milliseconds client_ttl{15000};
};

// A half-open range of times, [from, to); an unset end is unbounded.
struct TimeRange {
  std::optional<Timestamp> from{};
  std::optional<Timestamp> to{};
};

// Which resources: every field narrows the selection, an empty one selects all. Within a
// field, any of the values matches.
struct ResourceFilter {
  std::vector<std::string> kinds{};
  std::vector<std::string> namespaces{};
  std::vector<ResourceState> states{};
  std::vector<std::string> object_ids{};  // exact ids
  std::string id_prefix{};                // object ids that start with it
  std::vector<std::string> tags_any{};    // holds at least one of these tags
  std::vector<std::string> tags_all{};    // holds every one of these tags
  TimeRange attempted{};                  // attempted_at within (never attempted: excluded)
  TimeRange synced{};                     // synced_at within (never synced: excluded)
};

enum class SortOrder { newest_first, oldest_first };

// One page of a listing: keyset pagination (a cursor, never an offset), so that a page is
// as cheap at the millionth row as at the first, and paging while rows are inserted
// returns every row that existed at the start exactly once.
struct Page {
  int limit = 100;       // 1 to 1000
  std::string cursor{};  // next_cursor of the previous page; empty: the first page
  SortOrder order = SortOrder::newest_first;
};

template <class Row>
struct Listing {
  std::vector<Row> rows{};
  std::string next_cursor{};  // empty: this was the last page
};

// What to count resources by (count_resources); none: one total.
enum class ResourceGroup { kind, namespace_name, state };

struct ResourceCount {
  std::optional<std::string> kind{};            // set when grouped by kind
  std::optional<std::string> namespace_name{};  // set when grouped by namespace
  std::optional<ResourceState> state{};         // set when grouped by state
  std::int64_t count = 0;
};

// How a bulk action runs.
struct BulkOptions {
  bool dry_run = false;   // only count what would change
  int batch_size = 5000;  // rows per transaction, 1 to 50,000
  // Called after each batch with the rows changed so far (not called for a dry run).
  std::function<void(std::int64_t changed)> progress{};
};

struct BulkResult {
  std::int64_t changed = 0;  // rows changed (for a dry run: rows that would change)
  int batches = 0;           // transactions committed
  bool dry_run = false;
};

// What an informer run wrote: of the objects it emitted, how many were new, changed,
// unchanged, older than the stored version (stale) or deleted resources it left alone.
struct InformCounts {
  std::int64_t emitted = 0;
  std::int64_t inserted = 0;
  std::int64_t changed = 0;
  std::int64_t unchanged = 0;
  std::int64_t stale = 0;
  std::int64_t skipped_deleted = 0;
};

// Flow limits of a kind, a namespace or a job queue (docs/flow-control.md); unset: no
// limit. A queue's max_concurrency is its QueueConfig::global_max_workers.
struct FlowLimits {
  std::optional<int> max_concurrency{};
  std::optional<RateLimit> rate_limit{};
  friend bool operator==(const FlowLimits&, const FlowLimits&) = default;
};

// What the database holds of a scope's flow limits.
struct LimitsInfo {
  FlowLimits in_force{};
  FlowLimits defaults{};                   // registered by the first process
  std::optional<FlowLimits> overridden{};  // an operator's override, in force while set
  std::optional<Timestamp> overridden_at{};
};

// One row of delta_controller: a kind some client registered, with its informer's state.
struct ControllerInfo {
  std::string kind{};
  std::optional<std::chrono::milliseconds> inform_interval{};  // unset: no periodic informs
  std::optional<Timestamp> cursor{};                           // InformOptions::after
  std::optional<Timestamp> last_inform_started_at{};
  std::optional<Timestamp> last_inform_finished_at{};
  std::optional<std::string> last_inform_error{};
  // What the last finished run wrote (a failed run: what it wrote before it failed);
  // unset until a run finishes.
  std::optional<InformCounts> last_inform_counts{};
  std::optional<Timestamp> next_inform_at{};  // the informer job waiting to run, if any
  int clients = 0;                            // live clients that run the kind
  std::vector<ResourceCount> states{};        // resources of the kind per state
  std::optional<Timestamp> paused_at{};       // set: paused (Admin::pause_kind)
  LimitsInfo limits{};
};

struct NamespaceInfo {
  std::string name{};
  std::optional<std::chrono::milliseconds> expiry_ttl{};
  std::optional<std::chrono::milliseconds> synced_retention{};
  std::optional<std::chrono::milliseconds> deleted_retention{};
  std::optional<std::chrono::milliseconds> degraded_retention{};
  std::vector<ResourceCount> states{};  // resources of the namespace per state
  LimitsInfo limits{};
};

// A live client process: not stopped, heartbeat within AdminOptions::client_ttl.
struct ClientInfo {
  std::string id{};
  std::string hostname{};
  int pid = 0;
  Timestamp started_at{};
  Timestamp heartbeat_at{};
  bool leader = false;
  std::int64_t resources_held = 0;  // resources leased to it now (pending)
  std::int64_t jobs_held = 0;       // jobs it runs now
  nlohmann::json metadata{};        // what it serves (queues, kinds)
};

// Which jobs; as for ResourceFilter, empty fields select all.
struct JobFilter {
  std::vector<std::string> queues{};
  std::vector<std::string> kinds{};
  std::vector<jobs::JobState> states{};
  std::vector<std::int64_t> ids{};
};

struct JobStateCount {
  jobs::JobState state = jobs::JobState::available;
  std::int64_t count = 0;
};

struct QueueInfo {
  std::string name{};
  std::optional<Timestamp> paused_at{};  // set: paused
  std::vector<JobStateCount> states{};   // jobs of the queue per state
  // How long the oldest available job has waited since it was due.
  std::optional<std::chrono::milliseconds> oldest_available_age{};
  LimitsInfo limits{};
};

// How long the oldest resource of a kind that is due but not claimed has waited.
struct KindLag {
  std::string kind{};
  std::optional<std::chrono::milliseconds> lag{};  // unset: nothing of the kind waits
};

// What happened in one minute, counted from what the tables hold now (delta keeps no
// history of past syncs, so a resource synced three times in the minute counts once, and
// one changed since does not count at all).
struct ThroughputMinute {
  Timestamp minute{};               // the minute's start
  std::int64_t synced = 0;          // resources synced now whose last sync fell in it
  std::int64_t failed = 0;          // resources failed or degraded now, last attempt in it
  std::int64_t jobs_completed = 0;  // jobs completed in it
  // Jobs discarded in it, and retryable jobs whose last attempt fell in it.
  std::int64_t jobs_failed = 0;
};

// The whole picture in one call.
struct Status {
  int schema_version = 0;
  int latest_schema_version = 0;  // what this build knows
  std::optional<std::string> leader{};
  std::vector<ClientInfo> clients{};
  std::vector<ResourceCount> resources{};  // per kind x state
  std::vector<QueueInfo> queues{};
  // The age of the oldest resource / job that is due but not claimed (the lag); unset
  // when nothing is waiting.
  std::optional<std::chrono::milliseconds> resource_lag{};
  std::optional<std::chrono::milliseconds> job_lag{};
};

class Admin {
 public:
  // Throws ValidationError for a bad schema name, timeout or TTL, or a null pool.
  explicit Admin(std::shared_ptr<pg::Pool> pool, AdminOptions options = {});
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // ---- resources ----
  Listing<ResourceRow> list_resources(const ResourceFilter& filter = {}, const Page& page = {});
  // Throws NotFound.
  ResourceRow get_resource(std::string_view kind, std::string_view object_id);
  std::vector<ResourceCount> count_resources(const ResourceFilter& filter = {},
                                             const std::vector<ResourceGroup>& group_by = {});

  // Bulk actions on the resources the filter selects (those in a state the action applies
  // to); each wakes the workers of the kinds it changed.
  // failed / degraded -> scheduled, due now, attempts reset.
  BulkResult retry_resources(const ResourceFilter& filter, const BulkOptions& options = {});
  // synced -> expired, due now.
  BulkResult invalidate_resources(const ResourceFilter& filter, const BulkOptions& options = {});
  // Any state but deleted -> deleted, without calling the worker (a worker running one
  // now finds its outcome refused by the fence).
  BulkResult delete_resources(const ResourceFilter& filter, const BulkOptions& options = {});
  // Scheduled, failed or expired resources due later are made due now.
  BulkResult schedule_resources_now(const ResourceFilter& filter, const BulkOptions& options = {});

  // ---- controllers and namespaces ----
  std::vector<ControllerInfo> list_controllers();
  // A paused kind is neither claimed nor informed periodically by any process (from its
  // next claim, within a poll interval); informs are still stored, and work already
  // running finishes. Resuming wakes the workers. Both are idempotent.
  void pause_kind(std::string_view kind);
  void resume_kind(std::string_view kind);
  // Schedules a run of the kind's informer now, on the informers' queue, where a client
  // with the controller runs it (as Client::schedule_inform; a run already waiting is not
  // doubled: the result says unique_skipped_as_duplicate). Throws ValidationError for a
  // kind no client has registered.
  jobs::InsertResult schedule_inform(std::string_view kind, bool process_existing = false);
  std::vector<NamespaceInfo> list_namespaces();

  // ---- flow limits (docs/flow-control.md) ----
  // Overrides the limits of a kind, a namespace or a queue in every process (each picks
  // the change up within its poll interval): `limits` is what is in force from now on
  // (unset fields: no limit), instead of the defaults the processes registered, until
  // cleared. Throws ValidationError for a bad limit (naming the field) or a kind or
  // namespace no client has registered; a queue is registered by its first override.
  void set_kind_limits(std::string_view kind, const FlowLimits& limits);
  void set_namespace_limits(std::string_view name, const FlowLimits& limits);
  void set_queue_limits(std::string_view queue, const FlowLimits& limits);
  // Drops the override: the registered defaults are in force again. Idempotent.
  void clear_kind_limits(std::string_view kind);
  void clear_namespace_limits(std::string_view name);
  void clear_queue_limits(std::string_view queue);

  // ---- jobs and queues ----
  Listing<jobs::JobRow> list_jobs(const JobFilter& filter = {}, const Page& page = {});
  // Throws NotFound.
  jobs::JobRow get_job(std::int64_t id);
  // Finished or waiting jobs are made available now (as jobs::Jobs::retry).
  BulkResult retry_jobs(const JobFilter& filter, const BulkOptions& options = {});
  // Jobs not yet finished are cancelled; running ones have their stop token signalled
  // (as jobs::Jobs::cancel).
  BulkResult cancel_jobs(const JobFilter& filter, const BulkOptions& options = {});
  // Jobs not running are removed from the table.
  BulkResult delete_jobs(const JobFilter& filter, const BulkOptions& options = {});
  std::vector<QueueInfo> list_queues();
  void pause_queue(std::string_view queue);
  void resume_queue(std::string_view queue);

  // ---- clients and status ----
  std::vector<ClientInfo> list_clients();
  Status status();
  // Every kind with runnable resources or a registered controller, by name, with its lag:
  // one index step per kind, cheap at any table size.
  std::vector<KindLag> kind_lag();
  // One entry per minute of the last `window` minutes, oldest first, the current (partial)
  // minute last; minutes without anything are zeros. Each count is a range scan of an
  // index over the window's rows. Throws ValidationError unless `window` is 1 to 1440
  // minutes.
  std::vector<ThroughputMinute> throughput(std::chrono::minutes window = std::chrono::minutes(60));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_{};
};

// Parses "kind", "namespace" or "state" (the CLI's --by); throws ValidationError.
ResourceGroup resource_group_from_string(std::string_view name);
std::string_view to_string(ResourceGroup group) noexcept;

}  // namespace delta

DELTA_PUBLIC_END
