// The job queue's moving parts inside one client: the executor (a producer and worker
// threads per queue), the completer (batched outcome writes), the watchdog (timeouts and
// cancellation), the notifier (LISTEN/NOTIFY wake-ups) and the maintainer (heartbeat,
// leader election, and the leader's scheduler, rescuer, cleaner and periodic jobs).
//
// Shutdown order (JobsEngine::stop): producers stop fetching -> running jobs get the
// grace period -> their stop tokens are signalled -> what is still running is released
// -> worker threads end -> completer flushes -> notifier ends -> maintainer resigns the
// leadership and marks the client stopped.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <delta/client.hpp>
#include <delta/jobs.hpp>

#include "common/backoff.hpp"
#include "common/batch_writer.hpp"
#include "common/event_hub.hpp"
#include "common/scan_cursors.hpp"
#include "common/wake_chain.hpp"
#include "jobs/store.hpp"
#include "pg/listener.hpp"

namespace delta::jobs {

using EventHub = internal::EventHub<JobEvent, JobEventKind, &JobEvent::kind>;

// What every part shares.
struct EngineContext {
  std::shared_ptr<pg::Pool> pool;
  Config config;  // validated, defaults filled in
  JobStore store;
  Client* client = nullptr;
  EventHub events;

  std::optional<Timestamp> now() const {
    if (config.clock) return config.clock();
    return std::nullopt;
  }
  void log(LogLevel level, const std::string& message) const {
    if (config.logger) config.logger(level, message);
  }
};

using internal::LoopBackoff;

// Deadlines and stop requests of running jobs.
class Watchdog {
 public:
  struct Flags {
    bool timed_out = false;
    bool shutdown = false;
    bool cancelled = false;
  };
  void start();
  void stop();
  std::stop_token add(std::int64_t id, std::chrono::steady_clock::time_point deadline);
  Flags remove(std::int64_t id);
  void cancel(std::int64_t id);  // an operator cancelled the job
  void shutdown_all();           // the client is stopping

 private:
  struct Entry {
    std::chrono::steady_clock::time_point deadline;
    std::stop_source source;
    Flags flags;
  };
  void run(std::stop_token stop);
  std::mutex mutex_;
  std::condition_variable_any changed_;
  std::map<std::int64_t, Entry> running_;  // guarded by mutex_
  // When the watchdog thread wakes next (guarded by mutex_): add() wakes it early only for
  // a deadline before that, so a steady stream of jobs does not wake it once per job.
  std::chrono::steady_clock::time_point next_check_ = std::chrono::steady_clock::time_point::max();
  std::uint64_t generation_ = 0;  // guarded by mutex_: bumped when it must look again
  std::jthread thread_;
};

// Writes outcomes in batches, then publishes their events.
class Completer {
 public:
  explicit Completer(EngineContext& ctx);
  void start() { writer_.start(); }
  void submit(Completion completion, std::optional<JobEvent> event);
  // Writes everything pending, then ends the thread.
  void stop();
  std::size_t pending() const { return writer_.pending(); }
  // More outcomes wait than the next two statements write: fetchers pause.
  bool backlogged() const { return writer_.backlogged(); }

 private:
  struct Item {
    Completion completion;
    std::optional<JobEvent> event;
  };
  // Writes `batch`; false when it should be tried again later (e.g. connection lost).
  bool write(std::vector<Item>& batch);
  void apply(std::vector<Item>& batch);

  EngineContext& ctx_;
  std::atomic<std::int64_t> batches_{0};
  std::atomic<std::int64_t> written_{0};
  internal::BatchWriter<Item> writer_;
};

// One queue in this client: a producer thread fetching into a buffer and max_workers
// worker threads running jobs from it.
class QueueRunner {
 public:
  QueueRunner(EngineContext& ctx, Completer& completer, Watchdog& watchdog, std::string queue,
              int max_workers);
  void start();
  void wake();
  // Stops fetching; jobs fetched but not started are released at once.
  void stop_fetching();
  // Jobs running or buffered.
  int in_flight() const;
  std::vector<std::int64_t> running_ids() const;
  // Ends the worker threads once their current jobs return.
  void join();
  const std::string& queue() const noexcept { return queue_; }

 private:
  // With a backlog (the last fetch came back full), the producer refills once half the
  // slots are free: fetching for every freed slot would spend a round trip per job
  // (mutex_ held).
  bool refill_due() const {
    return more_ && max_workers_ - in_flight_ >= std::max(1, max_workers_ / 2);
  }
  void produce(std::stop_token stop);
  void work();
  void execute(const JobRow& job);
  void release_buffered();

  EngineContext& ctx_;
  Completer& completer_;
  Watchdog& watchdog_;
  const std::string queue_;
  const int max_workers_;
  std::vector<std::string> kinds_;
  std::vector<std::int64_t> timeouts_ms_;

  mutable std::mutex mutex_;
  std::condition_variable_any producer_cv_;
  std::condition_variable worker_cv_;
  std::deque<JobRow> ready_;          // guarded by mutex_
  std::set<std::int64_t> executing_;  // guarded by mutex_
  int in_flight_ = 0;                 // guarded by mutex_: ready_ + executing
  bool wake_ = false;                 // guarded by mutex_
  bool more_ = false;                 // guarded by mutex_: the last fetch came back full
  bool fetching_ = true;              // guarded by mutex_
  bool workers_exit_ = false;         // guarded by mutex_
  internal::WakeChain wakes_;         // guarded by mutex_
  // Where the next fetch starts (guarded by mutex_); a wake-up (a job inserted, maybe of
  // a higher priority) starts it from the beginning.
  internal::ScanCursors<FetchKey> cursor_;
  std::atomic<std::int64_t> fetches_{0};
  std::atomic<std::int64_t> fetched_{0};
  std::jthread producer_;
  std::vector<std::thread> workers_;
};

// Heartbeat, leader election, and the leader's maintenance services.
//
// Two threads: the pulse (heartbeat and leader lease) runs on a connection of its own, so
// a busy pool or a slow maintenance task can never make a live client look dead; the
// services thread runs the leader's scheduler, rescuer, cleaner and periodic jobs on the
// pool.
class Maintainer {
 public:
  explicit Maintainer(EngineContext& ctx) : ctx_(ctx) {}
  void start();
  // Ends the threads, resigns, and marks the client stopped.
  void stop();
  void wake_election();
  bool is_leader() const;

  // One pass of each service.
  std::int64_t run_scheduler();
  std::int64_t run_rescuer();
  std::int64_t run_cleaner();
  std::int64_t run_periodic();

 private:
  void pulse(std::stop_token stop);
  void services(std::stop_token stop);
  // Runs `body` on the pulse connection, (re)opening it when needed.
  template <class F>
  void on_pulse_connection(F&& body);
  void heartbeat();
  void elect();

  EngineContext& ctx_;
  std::unique_ptr<pg::Connection> pulse_conn_;  // used by the pulse thread only
  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool election_requested_ = false;  // guarded by mutex_
  std::atomic<bool> leader_{false};
  std::atomic<std::int64_t> leader_until_{0};  // steady_clock ticks
  std::atomic<bool> periodic_ensured_{false};  // schedules recorded since becoming leader
  std::jthread pulse_thread_;
  std::jthread services_thread_;
};

class JobsEngine {
 public:
  JobsEngine(std::shared_ptr<pg::Pool> pool, Config config, Client* client);
  ~JobsEngine();

  InsertResult insert(const JobInsert& job);
  InsertResult insert_tx(pg::Transaction& tx, const JobInsert& job);
  std::vector<InsertResult> insert_many(std::span<const JobInsert> jobs);
  std::vector<InsertResult> insert_many_tx(pg::Transaction& tx, std::span<const JobInsert> jobs);
  JobRow get(std::int64_t id);
  JobRow cancel(std::int64_t id);
  JobRow retry(std::int64_t id);
  void set_paused(std::string_view queue, bool paused);
  Subscription<JobEvent> subscribe(std::vector<JobEventKind> kinds, std::size_t capacity);

  void start();
  void stop(std::chrono::milliseconds grace);
  bool running() const noexcept { return started_ && !stopped_; }
  bool is_leader() const { return maintainer_.is_leader(); }
  // Before start(): also listen on `channel`; `on_payload` runs on the notifier thread for
  // each notification, `on_reconnect` after the listener reconnected (wake-ups may have
  // been missed).
  void add_channel(std::string channel, std::function<void(const std::string&)> on_payload,
                   std::function<void()> on_reconnect);
  // Whether a write announcing `keys` on `channel` should carry a NOTIFY (at most one per
  // key per Config::notify_rate_limit from this process). A suppressed wake-up is owed:
  // the trailer thread (started on first need) sends it once the key's window has passed.
  bool should_notify(const std::string& channel, const std::vector<std::string>& keys);
  Maintainer& maintainer() { return maintainer_; }
  EngineContext& context() { return ctx_; }

 private:
  void notifier_loop(std::stop_token stop);
  void trailer_loop(std::stop_token stop);

  EngineContext ctx_;
  Watchdog watchdog_;
  Completer completer_;
  Maintainer maintainer_;
  std::vector<std::unique_ptr<QueueRunner>> runners_;
  std::unique_ptr<pg::Listener> listener_;
  std::jthread notifier_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};

  std::mutex notify_mutex_;
  std::condition_variable_any notify_owed_;
  struct ExtraChannel {
    std::string channel;
    std::function<void(const std::string&)> on_payload;
    std::function<void()> on_reconnect;
  };
  std::vector<ExtraChannel> extra_channels_;                                // set before start
  using NotifyKey = std::pair<std::string, std::string>;                    // channel, payload
  std::map<NotifyKey, std::chrono::steady_clock::time_point> last_notify_;  // guarded
  std::set<NotifyKey> trailing_;  // guarded by notify_mutex_: wake-ups owed
  std::jthread trailer_;          // guarded by notify_mutex_ (started lazily)
};

// `text` made safe for jsonb: invalid UTF-8 replaced, NUL bytes removed.
std::string storable_text(std::string_view text);
// An entry for a job's errors array.
nlohmann::json error_entry(int attempt, std::optional<Timestamp> now, std::string_view message,
                           std::string_view type);

// Validates one job; throws ValidationError naming the field (prefixed by `where`).
void validate_insert(const JobInsert& job, const std::string& where = {});

}  // namespace delta::jobs
