// The resource engine inside one client: inform, the namespace runners (a claimer and
// worker threads per namespace), the finisher (batched fenced outcome writes), the
// watchdog (work timeouts and stop) and the leader's resource maintenance (lease rescue).
//
// Shutdown order (SyncEngine::stop): runners stop claiming and release what they claimed
// but did not start -> running work gets the grace period -> its stop tokens are
// signalled -> what still runs is released (back to scheduled) -> worker threads end ->
// the finisher flushes -> maintenance ends -> subscriptions are closed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <delta/client.hpp>

#include "common/batch_writer.hpp"
#include "common/event_hub.hpp"
#include "common/scan_cursors.hpp"
#include "common/wake_chain.hpp"
#include "jobs/engine.hpp"
#include "sync/store.hpp"

namespace delta::sync {

using EventHub = internal::EventHub<Event, EventCategory, &Event::category>;

// One registered kind in this process.
struct KindInfo {
  std::string kind;
  std::shared_ptr<ControllerBase> controller;
  int parallelism = 1;
  std::chrono::milliseconds timeout{0};  // resolved default work timeout (< 0: none)
  std::int64_t lease_ms = -1;            // timeout + stuck_threshold (< 0: no expiry)
};

// What every part shares.
struct SyncContext {
  jobs::EngineContext& base;  // pool, config, client, clock, logger
  ResourceStore store;
  EventHub events;
  std::vector<KindInfo> kinds;

  const Config& config() const { return base.config; }
  std::optional<Timestamp> now() const { return base.now(); }
  void log(LogLevel level, const std::string& message) const { base.log(level, message); }
  const KindInfo* kind(std::string_view name) const;
};

// Per-kind limits across every namespace runner of this process: at most `parallelism`
// resources of a kind are worked at once, and at most parallelism + prefetch are claimed
// (worked or waiting in a runner's buffer).
class KindSlots {
 public:
  KindSlots(const std::vector<KindInfo>& kinds, int prefetch);
  // Reserves up to `want` claims of each kind; returns how many each got.
  std::vector<std::int32_t> reserve(int want);
  // Returns unused claim reservations. `announce`: tell the runners when the kind had
  // none left (not for a claimer returning what it did not use: it would wake itself).
  void give_back(std::size_t kind_index, int count, bool announce = true);
  // Takes a work slot of the kind; false when `parallelism` are already running.
  bool try_start(std::size_t kind_index);
  // A resource of the kind finished: frees its work slot and its claim. `by`: the runner
  // whose worker finished it (it looks at its own buffer next, so needs no wake-up).
  void finish(std::size_t kind_index, const void* by = nullptr);
  std::size_t index_of(std::string_view kind) const;
  // What a kind that had no free slot got back.
  struct Freed {
    bool claim = false;  // a claim slot: claimers may claim the kind again
    bool run = false;    // a work slot: workers may start a buffered resource of it
    const void* by = nullptr;
  };
  // Called (outside the lock) when a kind that had no free slot gets one back.
  void on_freed(std::function<void(const Freed&)> callback) { on_freed_ = std::move(callback); }

 private:
  std::function<void(const Freed&)> on_freed_;
  std::mutex mutex_;
  std::vector<int> claim_free_;  // guarded by mutex_
  std::vector<int> run_free_;    // guarded by mutex_
  std::vector<std::string> names_;
};

// Writes work outcomes in batches, then publishes their events.
class Finisher {
 public:
  struct Item {
    FinishRow row;
    std::optional<Event> event;
  };
  explicit Finisher(SyncContext& ctx);
  void start() { writer_.start(); }
  void submit(Item item) { writer_.submit(std::move(item)); }
  // More outcomes wait than the next two statements write: claimers pause.
  bool backlogged() const { return writer_.backlogged(); }
  void stop();

 private:
  void apply(std::vector<Item>& batch);
  SyncContext& ctx_;
  std::atomic<std::int64_t> batches_{0};
  std::atomic<std::int64_t> written_{0};
  internal::BatchWriter<Item> writer_;
};

// Where each kind's next claim starts (ResourceStore::claim's `after`).
using ClaimCursors = internal::ScanCursors<ClaimKey>;

// One namespace in this client: a claimer thread and max_workers worker threads.
class NamespaceRunner {
 public:
  NamespaceRunner(SyncContext& ctx, KindSlots& slots, Finisher& finisher, jobs::Watchdog& watchdog,
                  std::string name, int max_workers);
  void start();
  void wake();
  // A kind's work or claim slot came free.
  void slots_freed(const KindSlots::Freed& freed);
  // Stops claiming; resources claimed but not started are released at once.
  void stop_claiming();
  int in_flight() const;
  std::vector<std::pair<std::int64_t, Timestamp>> running() const;
  void join();
  const std::string& name() const noexcept { return name_; }
  bool works(std::string_view kind) const;

 private:
  void claim_loop(std::stop_token stop, int index);
  // Slots neither in flight nor being claimed (mutex_ held).
  int claimable() const { return capacity_ - in_flight_ - claiming_now_; }
  // With a backlog (the last claim came back full), claims refill in batches of half the
  // slots (mutex_ held).
  int refill_size() const { return std::max(1, capacity_ / 2); }
  bool refill_due() const { return more_ && claimable() >= refill_size(); }
  void work();
  void execute(ResourceRow row, std::chrono::steady_clock::time_point claimed_at);
  void release_buffered();
  // Renews the leases of resources waiting in the buffer for a third of their lease.
  void renew_buffered();

  SyncContext& ctx_;
  KindSlots& slots_;
  Finisher& finisher_;
  jobs::Watchdog& watchdog_;
  const std::string name_;
  const int max_workers_;
  std::vector<std::string> kinds_;
  std::vector<std::int64_t> lease_ms_;

  mutable std::mutex mutex_;
  std::condition_variable_any claimer_cv_;
  std::condition_variable worker_cv_;
  struct Claimed {
    ResourceRow row;
    std::chrono::steady_clock::time_point at;  // when the claim returned it
  };
  std::deque<Claimed> ready_;  // guarded by mutex_
  int capacity_ = 0;           // max claimed in flight: max_workers + prefetch
  std::chrono::milliseconds renew_after_{std::chrono::hours(24)};
  std::map<std::int64_t, Timestamp> executing_;  // guarded by mutex_: id -> claim time
  int in_flight_ = 0;                            // guarded by mutex_
  bool wake_ = false;                            // guarded by mutex_
  int claiming_now_ = 0;       // guarded by mutex_: slots claims in flight ask for
  bool more_ = false;          // guarded by mutex_
  bool claiming_ = true;       // guarded by mutex_
  bool workers_exit_ = false;  // guarded by mutex_
  internal::WakeChain wakes_;  // guarded by mutex_
  ClaimCursors cursors_;       // guarded by mutex_
  std::atomic<std::int64_t> claims_{0};
  std::atomic<std::int64_t> claimed_{0};
  std::vector<std::jthread> claimers_;
  std::vector<std::thread> workers_;
};

class SyncEngine;

// Lets the informer job workers (registered with the job queue before the resource engine
// exists) find the engine.
struct InformerLink {
  std::atomic<SyncEngine*> engine{nullptr};
};

// The job kind of `kind`'s informer runs: "delta.inform:<kind>".
std::string inform_job_kind(std::string_view kind);

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

class SyncEngine {
 public:
  SyncEngine(jobs::EngineContext& base, jobs::JobsEngine& jobs);
  ~SyncEngine();

  InformResult inform(pg::Transaction* tx, detail::ObjectData object);
  InformManyResult inform_many(pg::Transaction* tx, std::vector<detail::ObjectData>& objects,
                               bool resurrect);
  // Writes objects of `kind` already validated into `rows` (by prepare()).
  InformManyResult write_many(pg::Transaction* tx, const std::string& kind,
                              std::span<const detail::ObjectData> objects,
                              std::vector<InformRow>& rows, bool resurrect);
  // Validates and serialises objects of one kind; throws ValidationError naming the
  // first bad one (prefixed "objects[i]." in batches).
  std::vector<InformRow> prepare(std::span<const detail::ObjectData> objects);
  ResourceRow get(std::string_view kind, std::string_view id);
  ResourceRow invalidate(std::string_view kind, std::string_view id);
  ResourceRow retry(std::string_view kind, std::string_view id);
  Subscription<Event> subscribe(std::vector<EventCategory> categories, std::size_t capacity);

  // Registers namespaces and controllers, then starts the runners (the client row must
  // exist: the job engine's maintainer has heartbeated).
  void start();
  void stop(std::chrono::milliseconds grace);

  jobs::InsertResult schedule_inform(const ScheduleInformOpts& opts);
  std::optional<InformRun> last_inform_run(std::string_view kind) const;
  // One informer run for an inform job (args: process_existing, labels, limit, order_by).
  jobs::JobResult run_informer(jobs::JobContext& job, const std::string& kind,
                               const nlohmann::json& args);

  // One pass of each leader task; each returns how many rows it moved.
  std::int64_t run_rescuer();
  std::int64_t run_inform_scheduler();
  std::int64_t run_expirer(std::chrono::milliseconds budget);
  std::int64_t run_cleaner(std::chrono::milliseconds budget);

  SyncContext& context() { return ctx_; }

 private:
  // One inform() call waiting to be written. Concurrent calls of a kind are combined:
  // the first caller to find no statement of its kind in flight writes every waiting call
  // in one statement (one commit), the others wait for their result.
  struct InformCall {
    const detail::ObjectData* object;
    InformRow row;
    InformResult result;
    std::exception_ptr error;
    bool done = false;  // guarded by combine_mutex_
    // Its caller waits here (with combine_mutex_) until its call is written or it is its
    // turn to write the next statement: only those are woken, not every waiting caller.
    std::condition_variable turn;
  };
  // Writes `calls` (distinct ids of `kind`) in one statement on `tx`, or autocommitted;
  // stores each call's result or error, never throws. A failed batch of several is
  // written again one call at a time, so one bad call fails alone.
  void write_calls(pg::Transaction* tx, const std::string& kind, std::span<InformCall*> calls);
  void check_kind_known(std::string_view kind);
  void wake_kind(std::string_view kind);
  void maintenance_loop(std::stop_token stop);

  SyncContext ctx_;
  jobs::JobsEngine& jobs_;
  jobs::Watchdog watchdog_;
  Finisher finisher_;
  std::unique_ptr<KindSlots> slots_;
  std::vector<std::unique_ptr<NamespaceRunner>> runners_;
  std::jthread maintenance_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};

  mutable std::mutex runs_mutex_;
  std::map<std::string, InformRun, std::less<>> runs_;  // guarded by runs_mutex_

  std::mutex combine_mutex_;
  // inform() calls of one kind waiting to be written together; guarded by combine_mutex_.
  struct Combiner {
    std::deque<InformCall*> queue;
    int busy = 0;  // statements in flight
    // After a statement with several callers: the next statement waits until this many
    // calls are queued (the callers just answered usually call again), at most until
    // gather_until. See kInformGather.
    std::size_t gather_to = 0;
    std::chrono::steady_clock::time_point gather_until;
    InformCall* gatherer = nullptr;  // the call whose thread waits for them
  };
  std::map<std::string, Combiner, std::less<>> combiners_;

  std::mutex known_mutex_;
  std::set<std::string, std::less<>> known_kinds_;  // guarded by known_mutex_
};

}  // namespace delta::sync
