// Every SQL statement of the job queue, one function each.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <delta/jobs.hpp>

#include "pg/connection.hpp"
#include "runtime/flow.hpp"
#include "schema/sql.hpp"

namespace delta::jobs {

// An available job's place in fetch order: (priority, scheduled_at, id).
struct FetchKey {
  int priority = 0;
  Timestamp scheduled_at;
  std::int64_t id = 0;
  auto operator<=>(const FetchKey&) const = default;
};

// An outcome to write for one running job.
struct Completion {
  std::int64_t id = 0;
  int attempt = 0;           // fence: the attempt that ran
  std::string attempted_by;  // fence: the client that ran it
  JobState state =
      JobState::completed;  // completed/cancelled/discarded/retryable/scheduled/available
  std::optional<std::int64_t> delay_ms;  // retryable/scheduled/available: run again after this
  bool give_back_attempt = false;        // snooze and stop-release: attempt - 1
  std::optional<nlohmann::json> error;   // appended to errors (last 20 kept)
};

// A running job to rescue, with what the leader decided for it.
struct Rescue {
  std::int64_t id = 0;
  int attempt = 0;
  JobState state = JobState::retryable;  // retryable or discarded
  std::int64_t delay_ms = 0;
  nlohmann::json error;
};

struct RescueCandidate {
  JobRow job;
  std::string reason;
};

class JobStore {
 public:
  explicit JobStore(const std::string& schema);

  const std::string& schema() const noexcept { return schema_; }
  // The NOTIFY channel on which inserts and the scheduler announce available jobs
  // (payload: the queue name), and the control channel (leader resignations, cancels).
  const std::string& jobs_channel() const noexcept { return jobs_channel_; }
  const std::string& control_channel() const noexcept { return control_channel_; }

  // Jobs per insert statement. Larger batches are written by several statements, which
  // the caller must wrap in one transaction: a 100,000-row statement was 2x slower per
  // job than 20 of 5,000 (the server and libpq hold every row of one statement at once).
  static constexpr std::size_t kInsertChunk = 5000;

  // Inserts validated jobs; results in input order. `notify` adds one NOTIFY per queue
  // with available jobs, sent when the surrounding transaction commits.
  std::vector<InsertResult> insert(pg::Connection& conn, std::span<const JobInsert> jobs,
                                   std::optional<Timestamp> now, bool notify);

  // Moves up to `limit` available jobs of `queue` (kinds in `kinds`) to running for
  // `client_id`, in fetch order; only jobs after `after` in that order when given.
  // `timeouts_ms[i]` is the timeout of `kinds[i]` (< 0: none).
  std::vector<JobRow> fetch(pg::Connection& conn, const std::string& queue,
                            const std::vector<std::string>& kinds,
                            const std::vector<std::int64_t>& timeouts_ms, int limit,
                            const std::string& client_id, std::optional<Timestamp> now,
                            const std::optional<FetchKey>& after = std::nullopt);
  // A fetch under the queue's flow limits (runtime/flow.hpp): the same, in a transaction
  // that first locks the queue's limit row and fetches no more than its limits leave.
  // `starts[i]`: when jobs[i] may start (its rate limiter's turn).
  struct LimitedFetch {
    std::vector<JobRow> jobs;
    std::vector<std::chrono::steady_clock::time_point> starts;
    std::optional<std::chrono::steady_clock::time_point> next_due;
    bool capped = false;
  };
  LimitedFetch fetch_limited(pg::Connection& conn, const runtime::FlowStore& flow,
                             const std::string& queue, const std::vector<std::string>& kinds,
                             const std::vector<std::int64_t>& timeouts_ms, int limit,
                             const std::string& client_id, std::optional<Timestamp> now,
                             const std::optional<FetchKey>& after);
  // Makes sure the queues have a row in delta_queue (for their flow limits).
  void ensure_queues(pg::Connection& conn, const std::vector<std::string>& queues);

  // Writes outcomes; returns the jobs that still matched their fence, with the state
  // they ended in (others were rescued or released meanwhile and are left alone).
  std::vector<std::pair<std::int64_t, JobState>> complete(pg::Connection& conn,
                                                          std::span<const Completion> outcomes,
                                                          std::optional<Timestamp> now);

  // Scheduler: due scheduled/retryable jobs become available (and their queues are
  // notified). Returns how many moved.
  std::int64_t schedule(pg::Connection& conn, int limit, std::optional<Timestamp> now);

  // Rescuer, step 1 (inside a transaction): running jobs whose client stopped
  // heartbeating (older than client_ttl_ms, stopped, or unknown) or that ran past their
  // timeout by more than margin_ms; locked FOR UPDATE SKIP LOCKED.
  std::vector<RescueCandidate> lock_stuck(pg::Connection& conn, std::int64_t client_ttl_ms,
                                          std::int64_t margin_ms, int limit,
                                          std::optional<Timestamp> now);
  // Rescuer, step 2 (same transaction).
  void rescue(pg::Connection& conn, std::span<const Rescue> rescues, std::optional<Timestamp> now);

  // Cleaner: deletes up to `limit` finished jobs past retention; returns how many.
  std::int64_t clean(pg::Connection& conn, std::int64_t completed_ms, std::int64_t cancelled_ms,
                     std::int64_t discarded_ms, int limit, std::optional<Timestamp> now);

  // Releases running jobs of `client_id` back to available without using an attempt.
  std::int64_t release(pg::Connection& conn, const std::vector<std::int64_t>& ids,
                       const std::string& client_id, std::optional<Timestamp> now);

  std::optional<JobRow> get(pg::Connection& conn, std::int64_t id);
  // Waiting jobs: cancelled now. Running: cancel requested (metadata) and announced on
  // the control channel. Returns the job after the change, or nullopt if missing.
  std::optional<JobRow> cancel(pg::Connection& conn, std::int64_t id, std::optional<Timestamp> now);
  std::optional<JobRow> retry(pg::Connection& conn, std::int64_t id, std::optional<Timestamp> now);
  void set_queue_paused(pg::Connection& conn, const std::string& queue, bool paused,
                        std::optional<Timestamp> now);

  // Deletes client rows that have not heartbeated for `older_than_ms` and run no jobs.
  std::int64_t prune_clients(pg::Connection& conn, std::int64_t older_than_ms,
                             std::optional<Timestamp> now);

  // Periodic jobs: records the schedule if new (first run now when run_on_start, else one
  // interval from now).
  void ensure_periodic(pg::Connection& conn, const std::string& name, std::int64_t interval_ms,
                       bool run_on_start, std::optional<Timestamp> now);
  // Claims the due run of schedule `name` (advancing it past now); true when this caller
  // must insert the job, in the same transaction.
  bool claim_periodic(pg::Connection& conn, const std::string& name, std::int64_t interval_ms,
                      std::optional<Timestamp> now);

  static JobRow parse_row(const pg::Row& row, int first_column = 0);

 private:
  std::vector<InsertResult> insert_chunk(pg::Connection& conn, std::span<const JobInsert> jobs,
                                         std::optional<Timestamp> now, bool notify);

  std::string schema_;
  std::string jobs_channel_;
  std::string control_channel_;
  internal::BatchStatement insert_, insert_plain_;
  pg::Statement insert_one_, fetch_, complete_, schedule_, lock_stuck_, rescue_, clean_, release_,
      get_, cancel_, retry_, pause_, prune_clients_, ensure_periodic_, claim_periodic_,
      lookup_unique_, ensure_queues_;
  std::string flow_running_sql_;
  pg::Result run_fetch(pg::Connection& conn, const std::string& queue,
                       const std::vector<std::string>& kinds,
                       const std::vector<std::int64_t>& timeouts_ms, int limit,
                       const std::string& client_id, std::optional<Timestamp> now,
                       const std::optional<FetchKey>& after);
  static std::vector<JobRow> fetched_rows(const pg::Result& result);
};

// The key stored (hashed) in unique_key; empty when `job` is not unique.
std::string unique_key_source(const JobInsert& job, std::optional<Timestamp> now);
// The unique_states bitmask for `opts` (the default set when by_state is empty).
std::int16_t unique_states_mask(const UniqueOpts& opts);

}  // namespace delta::jobs
