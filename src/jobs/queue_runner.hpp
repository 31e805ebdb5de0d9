// One queue in this client: a fetcher thread taking available jobs into a buffer in
// batches, and max_workers worker threads running them.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/scan_cursors.hpp"
#include "jobs/completer.hpp"
#include "jobs/context.hpp"
#include "runtime/metrics.hpp"
#include "runtime/watchdog.hpp"
#include "runtime/worker_pool.hpp"

namespace delta::jobs {

class QueueRunner {
 public:
  QueueRunner(JobsContext& ctx, Completer& completer, runtime::Watchdog& watchdog,
              std::string queue, int max_workers);
  void start();
  // Fetches now (a job was inserted, or wake-ups may have been missed).
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
  // With a backlog (the last fetch came back full), the fetcher refills once half the
  // slots are free: fetching for every freed slot would spend a round trip per job
  // (mutex_ held).
  bool refill_due() const {
    return more_ && max_workers_ - in_flight_ >= std::max(1, max_workers_ / 2);
  }
  void fetch_loop(std::stop_token stop);
  // Runs `job`, fetched in the fence's epoch `epoch`.
  // The queue's name when its concurrency is capped (a job ending frees capacity that
  // fetchers of other processes wait for), else empty.
  std::string frees() const;
  void execute(const JobRow& job, std::uint64_t epoch,
               std::chrono::steady_clock::time_point start_at = {});
  // What execute() counts per kind (series found once, counted without a lock).
  struct KindMetrics {
    std::array<runtime::Counter*, 6> results{};  // by JobEventKind, then released
    runtime::Histogram* duration = nullptr;
  };
  void release_buffered();

  JobsContext& ctx_;
  Completer& completer_;
  runtime::Watchdog& watchdog_;
  const std::string queue_;
  const int max_workers_;
  std::vector<std::string> kinds_;
  std::vector<std::int64_t> timeouts_ms_;
  std::vector<KindMetrics> metrics_;  // by the kind's place in kinds_

  mutable std::mutex mutex_;
  std::condition_variable_any fetcher_cv_;
  std::condition_variable start_cv_;  // workers waiting for the rate limiter's turn
  int in_flight_ = 0;                 // guarded by mutex_: buffered + running
  bool wake_ = false;                 // guarded by mutex_
  bool more_ = false;                 // guarded by mutex_: the last fetch came back full
  bool fetching_ = true;              // guarded by mutex_
  // The last limited fetch met the queue's concurrency cap: a job ending here wakes the
  // fetcher (capacity came back), and its outcome wakes the fetchers of other processes.
  std::atomic<bool> capped_{false};
  // Where the next fetch starts (guarded by mutex_); a wake-up (a job inserted, maybe of
  // a higher priority) starts it from the beginning.
  internal::ScanCursors<FetchKey> cursor_;
  std::atomic<std::int64_t> fetches_{0};
  std::atomic<std::int64_t> fetched_{0};
  // The fetched jobs and the threads running them; a running job is known by its id.
  // A fetched job and the fence's epoch before the fetch ran.
  struct Fetched {
    JobRow job;
    std::uint64_t epoch = 0;
    // When the queue's rate limiter lets it start (a limited fetch).
    std::chrono::steady_clock::time_point start_at{};
  };
  runtime::WorkerPool<Fetched, std::int64_t> pool_;  // guarded by mutex_
  std::jthread fetcher_;
};

}  // namespace delta::jobs
