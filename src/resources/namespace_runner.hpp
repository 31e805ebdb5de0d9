#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/scan_cursors.hpp"
#include "resources/completer.hpp"
#include "resources/context.hpp"
#include "resources/kind_slots.hpp"
#include "resources/outcome.hpp"
#include "runtime/metrics.hpp"
#include "runtime/watchdog.hpp"
#include "runtime/worker_pool.hpp"

namespace delta::resources {

// Where each kind's next claim starts (ResourceStore::claim's `after`).
using ClaimCursors = internal::ScanCursors<ClaimKey>;

// One namespace in this client: claimer threads (resource_claimers) taking runnable
// resources into a buffer in batches, and up to max_workers worker threads working them.
class NamespaceRunner {
 public:
  NamespaceRunner(ResourcesContext& ctx, KindSlots& slots, Completer& completer,
                  runtime::Watchdog& watchdog, std::string name, int max_workers);
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
  struct Claimed {
    ResourceRow row;
    std::chrono::steady_clock::time_point at;  // when the claim returned it
    std::size_t kind_index = 0;                // the kind's place in KindSlots, found once
    std::uint64_t epoch = 0;                   // the fence's epoch before the claim ran
    // When its flow limits let it start (a limited claim: its rate limiters' turn).
    std::chrono::steady_clock::time_point start_at{};
  };
  // What the runner keeps of a resource being worked.
  struct Working {
    std::int64_t id = 0;
    Timestamp attempted_at;  // its claim
    std::size_t kind_index = 0;
  };
  void execute(Claimed& claimed);
  // Waits until the claimed resource's start time; false when the runner stops meanwhile.
  bool wait_for_start(const Claimed& claimed);
  // What execute() counts per kind (series found once, counted without a lock).
  struct KindMetrics {
    std::array<runtime::Counter*, 6> results{};  // by ReconcileResult
    runtime::Histogram* duration = nullptr;
    runtime::Gauge* active = nullptr;
  };
  // Counts an attempt that ended in `outcome` after `seconds` of work; `last`: it was the
  // resource's last attempt.
  std::size_t count(std::size_t kind_index, const WorkOutcome& outcome, bool threw, bool last,
                    double seconds);
  void release_buffered();
  // Renews the leases of resources waiting in the buffer for a third of their lease.
  void renew_buffered();

  ResourcesContext& ctx_;
  KindSlots& slots_;
  Completer& completer_;
  runtime::Watchdog& watchdog_;
  const std::string name_;
  const int max_workers_;
  std::vector<std::string> kinds_;
  std::vector<std::int64_t> lease_ms_;

  mutable std::mutex mutex_;
  std::condition_variable_any claimer_cv_;
  std::condition_variable start_cv_;  // workers waiting for a rate limiter's turn
  int capacity_ = 0;                  // max claimed in flight: max_workers + prefetch
  std::chrono::milliseconds renew_after_{std::chrono::hours(24)};
  int in_flight_ = 0;     // guarded by mutex_
  bool wake_ = false;     // guarded by mutex_
  int claiming_now_ = 0;  // guarded by mutex_: slots claims in flight ask for
  bool more_ = false;     // guarded by mutex_
  bool claiming_ = true;  // guarded by mutex_
  // The last limited claim met a concurrency cap: a finish here wakes the claimer
  // (capacity came back), and its outcome wakes the claimers of other processes.
  std::atomic<bool> capped_{false};
  // The limited claim's path: optimistic (claim, then check) unless the last limited claim
  // came near the limits or, until pessimistic_until_ (steady-clock ticks), one was refused.
  std::atomic<bool> limits_bound_{false};
  std::atomic<std::int64_t> pessimistic_until_{0};
  ClaimCursors cursors_;                       // guarded by mutex_
  const Backoff backoff_;                      // the delay before a failed resource's next attempt
  std::vector<KindMetrics> metrics_;           // by kind index
  runtime::Histogram* claim_batch_ = nullptr;  // rows per claim statement
  std::atomic<std::int64_t> claims_{0};
  std::atomic<std::int64_t> claimed_{0};
  runtime::WorkerPool<Claimed, Working> pool_;  // guarded by mutex_
  std::vector<std::jthread> claimers_;
};

}  // namespace delta::resources
