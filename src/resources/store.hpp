// Every SQL statement of the resource engine, one function each.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <delta/controller.hpp>
#include <delta/resource.hpp>

#include "pg/connection.hpp"
#include "runtime/flow.hpp"
#include "schema/sql.hpp"

namespace delta::resources {

// One object to write, validated and serialised.
struct UpsertRow {
  std::string object_id;
  std::string namespace_name;
  std::string body;      // canonical JSON (sorted keys): hashed and stored
  std::string metadata;  // a JSON object, as text
  std::int16_t max_attempts = 10;
  std::vector<std::string> tags;
  std::optional<Timestamp> external_created_at;
  bool force = false;  // write (and schedule) even when the content is unchanged
  // Forced by a process_existing resync, the caller's priority unset: unchanged, it is
  // due as background work.
  bool resync = false;
  std::optional<Priority> priority;  // unset: fresh
};

// What one inform statement did to its input rows (input order).
struct UpsertOutcomes {
  std::vector<InformStatus> status;
  // With `full` statements: the row after the inform, else empty. Kept apart from the
  // statuses: a vector of n optional rows (~370 bytes each) touched fresh memory on every
  // call even when no row was wanted.
  std::vector<std::optional<ResourceRow>> rows;
};

// A runnable resource's place in its priority class's claim order: (run_at, id).
struct ClaimKey {
  Timestamp run_at;
  std::int64_t id = 0;
  auto operator<=>(const ClaimKey&) const = default;
};

// How a claimed resource's work ended, to be written by the finisher.
enum class Finish { synced, failed, deleted, requeue, release };

struct FinishRow {
  std::int64_t id = 0;
  Timestamp attempted_at;       // fence: the claim that ran
  std::int64_t generation = 0;  // the generation that was worked
  Finish outcome = Finish::synced;
  std::int64_t delay_ms = 0;            // failed / requeue: run again after this
  std::optional<nlohmann::json> error;  // failed: appended to errors (last 20 kept)
};

// A claim fence that matched: the resource and the state it ended in.
struct Finished {
  std::int64_t id = 0;
  ResourceState state = ResourceState::unknown;
};

struct StoredObject {
  std::string object_id;
  ResourceState state = ResourceState::unknown;
  nlohmann::json object;
};

class ResourceStore {
 public:
  explicit ResourceStore(const std::string& schema);

  // NOTIFY channel announcing runnable resources; the payload is the kind.
  const std::string& channel() const noexcept { return channel_; }

  // Upserts objects of one kind (object ids unique within the call). Unchanged objects
  // are not written; `resurrect` lets a deleted resource be scheduled again. `full`
  // returns the rows (single informs); otherwise only statuses. `notify` sends a wake-up
  // for the kind with the transaction's commit when anything became runnable.
  UpsertOutcomes upsert(pg::Connection& conn, std::string_view kind,
                        std::span<const UpsertRow> rows, bool resurrect, bool full, bool notify,
                        std::optional<Timestamp> now);
  // Stored objects of `kind` among `ids`, locked FOR UPDATE (for compare()).
  std::vector<StoredObject> lock_objects(pg::Connection& conn, std::string_view kind,
                                         const std::vector<std::string>& ids);

  // Claims runnable resources of namespace `ns`: at most limits[i] of kinds[i] and at most
  // `limit` in all; per kind those due in priority class fresh first, then background,
  // each class oldest run_at first. Each gets a lease of lease_ms[i] (< 0: none). One
  // cursor per kind and class (kinds.size() of class fresh, then as many of background):
  // after[c * kinds.size() + i]: only rows of kinds[i] in class c after that key in claim
  // order (none: from the start). Rows are returned in claim order.
  std::vector<ResourceRow> claim(pg::Connection& conn, const std::string& ns,
                                 const std::vector<std::string>& kinds,
                                 const std::vector<std::int32_t>& limits,
                                 const std::vector<std::int64_t>& lease_ms, int limit,
                                 const std::string& client_id, std::optional<Timestamp> now,
                                 const std::vector<std::optional<ClaimKey>>& after = {});
  // A claim under flow limits (runtime/flow.hpp): the same, in a transaction that first
  // locks the limited kinds' and the namespace's limit rows and asks for no more than their
  // limits leave. `starts[i]`: when rows[i] may start (its rate limiters' turn).
  struct LimitedClaim {
    std::vector<ResourceRow> rows;
    std::vector<std::chrono::steady_clock::time_point> starts;
    std::optional<std::chrono::steady_clock::time_point> next_due;  // a rate's next start
    bool capped = false;                                            // a concurrency cap was reached
    bool cut = false;  // the limits let the claim ask for less than it would have
  };
  LimitedClaim claim_limited(pg::Connection& conn, const runtime::FlowStore& kind_flow,
                             const runtime::FlowStore& namespace_flow, const std::string& ns,
                             const std::vector<std::string>& kinds,
                             std::vector<std::int32_t> limits,
                             const std::vector<std::int64_t>& lease_ms, int limit,
                             const std::string& client_id, std::optional<Timestamp> now,
                             const std::vector<std::optional<ClaimKey>>& after);
  // The same without waiting for the limit rows before the claim: claims first, then locks
  // them and checks that the limits hold with what it took (resources/flow_check.sql), in
  // one round trip and one transaction. nullopt when they would not: the claim was rolled
  // back and nothing was taken (take claim_limited then). For limits far from reached.
  std::optional<LimitedClaim> claim_optimistic(
      pg::Connection& conn, const runtime::FlowStore& kind_flow,
      const runtime::FlowStore& namespace_flow, const std::string& ns,
      const std::vector<std::string>& kinds, const std::vector<std::int32_t>& limits,
      const std::vector<std::int64_t>& lease_ms, int limit, const std::string& client_id,
      std::optional<Timestamp> now, const std::vector<std::optional<ClaimKey>>& after);
  // Renews the leases of claimed resources (ids[i] claimed at attempted_at[i]) to
  // lease_ms[i] from now (< 0: no expiry); returns the ids whose lease this client still
  // held.
  std::vector<std::int64_t> renew_leases(pg::Connection& conn, const std::vector<std::int64_t>& ids,
                                         const std::vector<Timestamp>& attempted_at,
                                         const std::vector<std::int64_t>& lease_ms,
                                         const std::string& client_id,
                                         std::optional<Timestamp> now);
  // Writes outcomes fenced by lease owner and claim time; returns those that matched.
  std::vector<Finished> finish(pg::Connection& conn, std::span<const FinishRow> rows,
                               const std::string& client_id, std::optional<Timestamp> now);

  // Rescue: pending resources whose lease ran out, or whose client stopped heartbeating
  // for client_ttl_ms (or stopped, or is unknown), become failed (degraded at
  // max_attempts), runnable at once. Returns the rescued rows and why.
  std::vector<std::pair<ResourceRow, std::string>> rescue(pg::Connection& conn,
                                                          std::int64_t client_ttl_ms, int limit,
                                                          std::optional<Timestamp> now);

  std::optional<ResourceRow> get(pg::Connection& conn, std::string_view kind,
                                 std::string_view object_id);
  // synced -> expired; nullopt when no synced row matched.
  std::optional<ResourceRow> invalidate(pg::Connection& conn, std::string_view kind,
                                        std::string_view object_id, std::optional<Timestamp> now);
  // failed/degraded -> scheduled with attempts reset; nullopt when none matched.
  std::optional<ResourceRow> retry(pg::Connection& conn, std::string_view kind,
                                   std::string_view object_id, std::optional<Timestamp> now);

  // Kinds some process registered a controller for.
  std::vector<std::string> known_kinds(pg::Connection& conn);
  // Registers (or updates) a namespace's settings; unset durations are stored as NULL.
  void upsert_namespace(pg::Connection& conn, const std::string& name,
                        std::optional<std::int64_t> expiry_ms,
                        std::optional<std::int64_t> synced_retention_ms,
                        std::optional<std::int64_t> deleted_retention_ms,
                        std::optional<std::int64_t> degraded_retention_ms);
  // Registers (or updates) a controller; inform_interval_ms unset: periodic informs off.
  void upsert_controller(pg::Connection& conn, const std::string& kind,
                         std::optional<std::int64_t> inform_interval_ms,
                         std::optional<std::int64_t> debounce_ms);

  // ---- informers ----
  // The cursor of `kind` (nullopt: none yet); marks the run started.
  std::optional<Timestamp> begin_inform(pg::Connection& conn, const std::string& kind,
                                        std::optional<Timestamp> now);
  // Records the end of `run`: the cursor moves to `cursor` unless that is older than the
  // stored one; `run.error` empty on success; the run's counts are kept for operators.
  void end_inform(pg::Connection& conn, const InformRun& run, std::optional<Timestamp> cursor,
                  std::optional<Timestamp> now);
  // Turns periodic informs of `kind` off (its controller has no informer).
  void disable_informs(pg::Connection& conn, const std::string& kind);
  // Kinds whose inform interval has passed since their last run started, with the
  // interval in ms; their rows stay locked until the transaction ends (a run starting
  // meanwhile waits, so it cannot finish between this check and the insert of its job).
  std::vector<std::pair<std::string, std::int64_t>> due_informs(pg::Connection& conn,
                                                                std::optional<Timestamp> now);

  // ---- maintenance ----
  // Synced resources past their namespace's expiry TTL become expired (at most `limit`);
  // returns how many, and wakes workers of their kinds.
  std::int64_t expire(pg::Connection& conn, int limit, std::optional<Timestamp> now);
  // Deletes at most `limit` resources past their namespace's retention for their state
  // (synced only where the namespace does not expire resources); returns how many.
  std::int64_t clean(pg::Connection& conn, int limit, std::optional<Timestamp> now);

  static ResourceRow parse_row(const pg::Row& row, int first_column = 0);

 private:
  void prepare_maintenance(const std::string& schema);
  static pg::Params claim_params(const std::string& ns, const std::vector<std::string>& kinds,
                                 const std::vector<std::int32_t>& limits,
                                 const std::vector<std::int64_t>& lease_ms, int limit,
                                 const std::string& client_id, std::optional<Timestamp> now,
                                 const std::vector<std::optional<ClaimKey>>& after);
  pg::Result run_claim(pg::Connection& conn, const std::string& ns,
                       const std::vector<std::string>& kinds,
                       const std::vector<std::int32_t>& limits,
                       const std::vector<std::int64_t>& lease_ms, int limit,
                       const std::string& client_id, std::optional<Timestamp> now,
                       const std::vector<std::optional<ClaimKey>>& after);
  static std::vector<ResourceRow> claimed_rows(const pg::Result& result);
  std::string channel_;
  std::string flow_pending_sql_;
  pg::Statement flow_check_;
  internal::BatchStatement upsert_full_, upsert_brief_, upsert_full_split_, upsert_brief_split_;
  pg::Statement lock_objects_, claim_, renew_leases_, finish_, rescue_, get_, invalidate_, retry_,
      known_kinds_, upsert_namespace_, upsert_controller_, begin_inform_, end_inform_,
      disable_informs_, due_informs_, expire_, clean_;
};

}  // namespace delta::resources
