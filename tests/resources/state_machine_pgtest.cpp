// The resource state machine of DESIGN.md ("Resource state machine"), one table row per
// test: every transition is driven through the public API or the engine's own threads
// (claimer, workers, finisher, rescuer, expirer, cleaner). Rows are put into the state a
// transition starts from with direct SQL on delta_resource where that is only the setup.
//
// Not covered here: "inform by an informer, row deleted -> deleted" (an informer run does
// not resurrect soft-deleted rows) belongs to the informer tests; the public inform API
// always resurrects (row inform_explicit_resurrects_deleted).
//
// Each row works in a schema of its own. Clients use short intervals and the tests wait on
// conditions; a row that must show something does *not* happen watches it for a short
// window after a positive signal proved the machinery ran.
#include <chrono>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <delta/client.hpp>
#include <delta/resource.hpp>

#include "support/pg_test.hpp"
#include "support/resource_test.hpp"
#include "support/test_controller.hpp"

namespace {

using delta::Client;
using delta::Config;
using delta::InformStatus;
using delta::ResourceRow;
using delta::ResourceState;
using namespace delta::testing;
using namespace std::chrono_literals;

// ---- the table --------------------------------------------------------------------------

class StateMachine;

struct Row {
  const char* name;   // the test's name
  const char* from;   // DESIGN.md's columns, for the failure messages
  const char* event;  //
  const char* to;     //
  void (*run)(StateMachine& t);
};

void PrintTo(const Row& row, std::ostream* out) {
  *out << row.event << ": " << row.from << " -> " << row.to;
}

// config() has controllers for thing and versioned.
class StateMachine
    : public delta::testing::ResourceTest<::testing::TestWithParam<Row>, Thing, Versioned> {
 public:
  StateMachine() : ResourceTest("sm") {}
};

using state_machine_pgtest = StateMachine;

// The SQL that puts a row in each state a transition starts from.
const char* const kScheduledLater = "attempt = 1, run_at = now() + interval '1 hour'";
const char* const kPendingElsewhere =
    "state = 'pending', attempt = 1, attempted_at = now(), lease_owner = 'other-worker', "
    "lease_expires_at = now() + interval '1 hour'";
const char* const kSynced =
    "state = 'synced', attempt = 1, attempted_at = now(), synced_at = now()";
const char* const kFailedLater =
    "state = 'failed', attempt = 3, attempted_at = now(), run_at = now() + interval '1 hour'";
const char* const kDegraded = "state = 'degraded', attempt = 10, attempted_at = now()";
const char* const kExpired = "state = 'expired', attempt = 1, synced_at = now(), run_at = now()";
const char* const kDeleted = "state = 'deleted', attempt = 1, deleted_at = now()";

// Setup: informs `object` with the reader and puts its row in the state a transition
// starts from with `setup` (SQL assignments; empty: as informed); returns the row then.
template <class T>
ResourceRow informed_as(StateMachine& t, const T& object, const char* setup) {
  t.reader().inform(object);
  if (*setup != '\0') t.set(object.key, setup, T::kind);
  return t.row(object.key, T::kind);
}

// ---- inform -----------------------------------------------------------------------------

void inform_new_object(StateMachine& t) {
  auto result = t.reader().inform(Thing{"a", "sync", 1});
  EXPECT_EQ(result.status, InformStatus::inserted);
  auto row = t.row("a");
  EXPECT_EQ(row.state, ResourceState::scheduled);
  EXPECT_EQ(row.generation, 1);
  EXPECT_EQ(row.attempt, 0);
  EXPECT_EQ(row.run_at, row.created_at) << "run_at = now() of the inform";
  EXPECT_LE(ms_from_now(row.run_at), 0);
  EXPECT_FALSE(row.lease_owner.has_value());
}

// Informs a changed object over a row put in `from` by `setup`.
void inform_changed_from(StateMachine& t, const char* setup, ResourceState from) {
  const ResourceRow before = informed_as(t, Thing{"a", "sync", 1}, setup);
  ASSERT_EQ(before.state, from);

  auto result = t.reader().inform(Thing{"a", "sync", 2});
  EXPECT_EQ(result.status, InformStatus::changed);
  EXPECT_TRUE(result.changed);
  EXPECT_TRUE(result.already_exists);

  const ResourceRow after = t.row("a");
  EXPECT_EQ(after.generation, before.generation + 1);
  EXPECT_EQ(after.attempt, 0) << "attempt reset";
  EXPECT_EQ(after.object.at("version"), 2);
  if (from == ResourceState::pending) {
    // The running work keeps its lease; its finish sees the new generation.
    EXPECT_EQ(after.state, ResourceState::pending);
    EXPECT_EQ(after.lease_owner, before.lease_owner);
  } else {
    EXPECT_EQ(after.state, ResourceState::scheduled);
    EXPECT_LE(ms_from_now(after.run_at), 0) << "runnable at once";
  }
}

void inform_unchanged_synced_writes_nothing(StateMachine& t) {
  const ResourceRow before = informed_as(t, Thing{"a", "sync", 1}, kSynced);
  std::this_thread::sleep_for(5ms);  // so that a write would move updated_at

  auto result = t.reader().inform(Thing{"a", "sync", 1});
  EXPECT_EQ(result.status, InformStatus::unchanged);
  EXPECT_FALSE(result.changed);
  EXPECT_TRUE(result.already_exists);
  const ResourceRow after = t.row("a");
  EXPECT_EQ(after.state, ResourceState::synced);
  EXPECT_EQ(after.generation, before.generation);
  EXPECT_EQ(after.updated_at, before.updated_at) << "no write";
  EXPECT_EQ(after.run_at, before.run_at);
  EXPECT_EQ(after.attempt, before.attempt);
}

void inform_unchanged_forced(StateMachine& t) {
  const ResourceRow before = informed_as(t, Thing{"a", "sync", 1}, kSynced);

  auto result = t.reader().inform(Thing{"a", "sync", 1}, {.force = true});
  EXPECT_EQ(result.status, InformStatus::changed);
  EXPECT_TRUE(result.changed);
  const ResourceRow after = t.row("a");
  EXPECT_EQ(after.state, ResourceState::scheduled);
  EXPECT_EQ(after.generation, before.generation + 1);
  EXPECT_EQ(after.attempt, 0);
}

void inform_compare_newer_same_content(StateMachine& t) {
  // compare() > 0 is a change even when the canonical JSON (and so the hash) is the same.
  const ResourceRow stored = informed_as(t, Versioned{"a", "sync", 1}, kSynced);
  auto result = t.reader().inform(Versioned{"a", "sync", 1});
  EXPECT_EQ(result.status, InformStatus::unchanged) << "compare() == 0, same hash";
  t.set("a", "object = jsonb_set(object, '{version}', '0')", Versioned::kind);
  // The stored object is now older by compare(); the informed one has the content the
  // hash was computed over.
  result = t.reader().inform(Versioned{"a", "sync", 1});
  EXPECT_EQ(result.status, InformStatus::changed);
  const ResourceRow after = t.row("a", Versioned::kind);
  EXPECT_EQ(after.state, ResourceState::scheduled);
  EXPECT_EQ(after.generation, stored.generation + 1);
  EXPECT_EQ(after.object.at("version"), 1);
}

// Informs an older version (compare() < 0) over a row put in `from` by `setup`.
void inform_stale_from(StateMachine& t, const char* setup, ResourceState from) {
  const ResourceRow before = informed_as(t, Versioned{"a", "sync", 5}, setup);
  ASSERT_EQ(before.state, from);

  auto result = t.reader().inform(Versioned{"a", "retry", 3});
  EXPECT_EQ(result.status, InformStatus::stale);
  EXPECT_FALSE(result.changed);
  EXPECT_TRUE(result.already_exists);
  EXPECT_EQ(result.resource.object.at("version"), 5);

  const ResourceRow after = t.row("a", Versioned::kind);
  EXPECT_EQ(after.state, from);
  EXPECT_EQ(after.generation, before.generation);
  EXPECT_EQ(after.updated_at, before.updated_at) << "no write";
  EXPECT_EQ(after.object, before.object);
  EXPECT_EQ(after.lease_owner, before.lease_owner);
}

void inform_explicit_resurrects_deleted(StateMachine& t) {
  const ResourceRow before = informed_as(t, Thing{"a", "sync", 1}, kDeleted);
  ASSERT_EQ(before.state, ResourceState::deleted);

  auto result = t.reader().inform(Thing{"a", "sync", 1});  // the same content
  EXPECT_EQ(result.status, InformStatus::changed);
  EXPECT_TRUE(result.changed);
  const ResourceRow after = t.row("a");
  EXPECT_EQ(after.state, ResourceState::scheduled);
  EXPECT_EQ(after.generation, before.generation + 1);
  EXPECT_EQ(after.attempt, 0);
  EXPECT_FALSE(after.deleted_at.has_value());
}

// ---- claim ------------------------------------------------------------------------------

// The claim of a runnable row put in `from` by `setup` (empty: just informed).
void claim_from(StateMachine& t, const char* setup, ResourceState from) {
  const ResourceRow before = informed_as(t, Thing{"a", "block", 1}, setup);
  ASSERT_EQ(before.state, from);

  Config cfg = t.worker_config();
  cfg.work_timeout = 20s;
  cfg.stuck_threshold = 3s;
  Client& worker = t.start(std::move(cfg));
  ASSERT_TRUE(eventually([&] { return t.recorder().runs("a") == 1; }));
  const ResourceRow claimed = t.row("a");
  EXPECT_EQ(claimed.state, ResourceState::pending);
  EXPECT_EQ(claimed.attempt, before.attempt + 1);
  EXPECT_EQ(claimed.lease_owner, std::optional<std::string>(worker.id()));
  ASSERT_TRUE(claimed.attempted_at.has_value());
  ASSERT_TRUE(claimed.lease_expires_at.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(*claimed.lease_expires_at -
                                                                  *claimed.attempted_at)
                .count(),
            23000)
      << "lease = work timeout + stuck_threshold";
  auto seen = t.recorder().seen("a");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].attempt, before.attempt + 1) << "work() sees the claimed attempt";
  t.gate().open();
  EXPECT_TRUE(eventually(t.in_state("a", ResourceState::synced)));
}

void claim_skips_rows_not_runnable(StateMachine& t) {
  Client& client = t.reader();
  const std::map<std::string, std::pair<const char*, ResourceState>> setups = {
      {"scheduled-later", {kScheduledLater, ResourceState::scheduled}},
      {"failed-later", {kFailedLater, ResourceState::failed}},
      {"synced", {kSynced, ResourceState::synced}},
      {"degraded", {kDegraded, ResourceState::degraded}},
      {"deleted", {kDeleted, ResourceState::deleted}},
  };
  for (const auto& [id, setup] : setups) {
    client.inform(Thing{id, "sync", 1});
    t.set(id, setup.first);
  }
  t.start(t.worker_config());
  client.inform(Thing{"probe", "sync", 1});
  ASSERT_TRUE(eventually(t.in_state("probe", ResourceState::synced)));
  EXPECT_TRUE(consistently(
      [&] {
        for (const auto& [id, setup] : setups) {
          if (t.recorder().runs(id) != 0 || t.state(id) != setup.second) return false;
        }
        return true;
      },
      300ms));
}

// ---- work outcomes ----------------------------------------------------------------------

void work_synced(StateMachine& t) {
  Client& worker = t.start(t.worker_config());
  worker.inform(Thing{"a", "sync", 1});
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::synced)));
  const ResourceRow row = t.row("a");
  ASSERT_TRUE(row.synced_at.has_value());
  ASSERT_TRUE(row.attempted_at.has_value());
  EXPECT_GE(*row.synced_at, *row.attempted_at);
  EXPECT_EQ(row.generation, 1);
  EXPECT_EQ(row.attempt, 1);
  EXPECT_FALSE(row.lease_owner.has_value());
  EXPECT_FALSE(row.lease_expires_at.has_value());
  EXPECT_TRUE(row.errors.empty());
  EXPECT_EQ(t.recorder().runs("a"), 1);
}

void work_synced_generation_moved(StateMachine& t) {
  Client& worker = t.start(t.worker_config());
  auto events = worker.subscribe({delta::EventCategory::synced});
  worker.inform(Thing{"a", "block", 1});
  ASSERT_TRUE(eventually([&] { return t.recorder().runs("a") == 1; }));
  // A new version arrives while generation 1 is worked.
  auto changed = worker.inform(Thing{"a", "block", 2});
  ASSERT_EQ(changed.status, InformStatus::changed);
  t.gate().open();
  ASSERT_TRUE(eventually([&] { return t.recorder().runs("a") == 2; }));
  auto seen = t.recorder().seen("a");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].version, 2);
  EXPECT_EQ(seen[1].generation, 2);
  EXPECT_EQ(seen[1].attempt, 1) << "the change reset the attempts";
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::synced)));
  const ResourceRow row = t.row("a");
  EXPECT_EQ(row.generation, 2);
  EXPECT_EQ(row.object.at("version"), 2);
  // The outcome of generation 1 scheduled the row again instead of marking it synced:
  // the only synced event is generation 2's.
  auto first = events.next(2s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->resource.generation, 2);
  EXPECT_FALSE(events.next(200ms).has_value());
}

void work_retry_failed_with_backoff(StateMachine& t) {
  Client& worker = t.start(t.worker_config());
  worker.inform(Thing{"a", "retry", 1});
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::failed)));
  const ResourceRow row = t.row("a");
  EXPECT_EQ(row.attempt, 1);
  EXPECT_GT(ms_from_now(row.run_at), 59 * 60 * 1000) << "run_at = now + backoff(1) (1 h)";
  EXPECT_FALSE(row.lease_owner.has_value());
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].attempt, 1);
  EXPECT_EQ(row.errors[0].error, "boom 1");
  EXPECT_EQ(row.errors[0].type, "retry");
}

void work_throws_failed(StateMachine& t) {
  Client& worker = t.start(t.worker_config());
  worker.inform(Thing{"a", "throw", 1});
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::failed)));
  const ResourceRow row = t.row("a");
  EXPECT_EQ(row.attempt, 1);
  EXPECT_GT(ms_from_now(row.run_at), 59 * 60 * 1000);
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].error, "disk full");
  EXPECT_EQ(row.errors[0].type, "delta::testing::Broken");
}

void work_times_out_failed(StateMachine& t) {
  Config cfg = t.worker_config();
  cfg.work_timeout = 200ms;
  Client& worker = t.start(std::move(cfg));
  worker.inform(Thing{"a", "block_stop", 1});
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::failed)));
  const ResourceRow row = t.row("a");
  EXPECT_EQ(row.attempt, 1);
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].type, "timeout");
  EXPECT_TRUE(contains(row.errors[0].error, "timed out after 200 ms")) << row.errors[0].error;
}

void work_fails_max_attempts_degraded(StateMachine& t) {
  Config cfg = t.worker_config();
  cfg.resource_backoff = [](int) { return std::chrono::milliseconds(0); };
  Client& worker = t.start(std::move(cfg));
  worker.inform(Thing{"a", "retry", 1}, {.max_attempts = 2});
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::degraded)));
  const ResourceRow row = t.row("a");
  EXPECT_EQ(row.attempt, 2);
  EXPECT_EQ(row.max_attempts, 2);
  ASSERT_EQ(row.errors.size(), 2u);
  EXPECT_EQ(row.errors[0].error, "boom 1");
  EXPECT_EQ(row.errors[1].error, "boom 2");
  EXPECT_FALSE(row.lease_owner.has_value());
  // Degraded is not runnable: it is not worked again.
  EXPECT_TRUE(consistently([&] { return t.recorder().runs("a") == 2; }, 300ms));
}

void work_remove_deleted(StateMachine& t) {
  Client& worker = t.start(t.worker_config());
  worker.inform(Thing{"a", "remove", 1});
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::deleted)));
  const ResourceRow row = t.row("a");
  ASSERT_TRUE(row.deleted_at.has_value());
  EXPECT_LE(ms_from_now(*row.deleted_at), 0);
  EXPECT_FALSE(row.lease_owner.has_value());
  EXPECT_FALSE(row.synced_at.has_value());
  EXPECT_TRUE(consistently([&] { return t.recorder().runs("a") == 1; }, 200ms));
}

void work_requeue_after_scheduled(StateMachine& t) {
  Client& worker = t.start(t.worker_config());
  worker.inform(Thing{"a", "requeue", 1});
  ASSERT_TRUE(eventually([&] {
    auto row = t.row("a");
    return row.attempted_at.has_value() && row.state == ResourceState::scheduled;
  }));
  const ResourceRow row = t.row("a");
  EXPECT_EQ(row.attempt, 0) << "a requeue is not a failed attempt";
  EXPECT_GT(ms_from_now(row.run_at), 59 * 60 * 1000) << "run_at = now + 1 h";
  EXPECT_LT(ms_from_now(row.run_at), 61 * 60 * 1000);
  EXPECT_TRUE(row.errors.empty());
  EXPECT_FALSE(row.lease_owner.has_value());
  EXPECT_FALSE(row.synced_at.has_value());
  EXPECT_EQ(t.recorder().runs("a"), 1);
}

// ---- lease expiry (the rescuer) ---------------------------------------------------------

void lease_expired_rescued_failed(StateMachine& t) {
  // The only client: the leader, so it runs the rescuer. It works no namespace.
  Client& client = t.start(t.config());
  client.inform(Thing{"a", "sync", 1});
  // Claimed by this (live, heartbeating) client, but the lease ran out.
  t.set("a", fmt::format("state = 'pending', attempt = 1, attempted_at = now() - interval '2 "
                         "seconds', lease_owner = '{}', lease_expires_at = now() - interval '1 "
                         "second'",
                         client.id()));
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::failed)));
  const ResourceRow row = t.row("a");
  EXPECT_EQ(row.attempt, 1) << "the lost attempt counts";
  EXPECT_FALSE(row.lease_owner.has_value());
  EXPECT_FALSE(row.lease_expires_at.has_value());
  EXPECT_LE(ms_from_now(row.run_at), 0) << "runnable again at once";
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].type, "rescue");
  EXPECT_EQ(row.errors[0].attempt, 1);
  EXPECT_TRUE(contains(row.errors[0].error, "lease expired")) << row.errors[0].error;
  EXPECT_TRUE(contains(row.errors[0].error, fmt::format("(held by {})", client.id())))
      << "the reason names who held the lease: " << row.errors[0].error;
}

void dead_owner_rescued_degraded(StateMachine& t) {
  Client& client = t.start(t.config());
  auto events = client.subscribe({delta::EventCategory::degraded});
  client.inform(Thing{"a", "sync", 1}, {.max_attempts = 3});
  // The last allowed attempt was claimed by a process that no longer exists.
  t.set("a",
        "state = 'pending', attempt = 3, attempted_at = now(), lease_owner = 'ghost-worker', "
        "lease_expires_at = now() + interval '1 hour'");
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::degraded)));
  const ResourceRow row = t.row("a");
  EXPECT_EQ(row.attempt, 3);
  EXPECT_FALSE(row.lease_owner.has_value());
  ASSERT_EQ(row.errors.size(), 1u);
  EXPECT_EQ(row.errors[0].type, "rescue");
  EXPECT_TRUE(contains(row.errors[0].error, "ghost-worker")) << row.errors[0].error;
  auto event = events.next(2s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->category, delta::EventCategory::degraded);
  EXPECT_EQ(event->resource.object_id, "a");
}

// The engine's own threads: work that ignores its stop token outlives timeout + stuck
// threshold; the rescuer takes the row back while the work still runs, and the work's late
// outcome is not applied. (The rescued row is runnable at once, so the worker may claim it
// again at any moment: the failed state is seen in the rescuer's event.)
void hung_work_rescued_failed(StateMachine& t) {
  Config cfg = t.worker_config(1);
  cfg.work_timeout = 300ms;
  cfg.stuck_threshold = 200ms;
  Client& worker = t.start(std::move(cfg));
  auto events = worker.subscribe({delta::EventCategory::failed});
  worker.inform(Thing{"a", "hang_once", 1});
  ASSERT_TRUE(eventually([&] { return t.recorder().runs("a") == 1; }));
  auto rescued = events.next(5s);
  ASSERT_TRUE(rescued.has_value());
  EXPECT_EQ(t.recorder().running(), 1) << "rescued while the work still runs";
  EXPECT_EQ(rescued->resource.object_id, "a");
  EXPECT_EQ(rescued->resource.state, ResourceState::failed);
  EXPECT_EQ(rescued->resource.attempt, 1);
  EXPECT_FALSE(rescued->resource.lease_owner.has_value());
  EXPECT_TRUE(contains(rescued->error, "lease expired")) << rescued->error;
  ResourceRow row = t.row("a");
  ASSERT_FALSE(row.errors.empty());
  EXPECT_EQ(row.errors[0].type, "rescue");
  EXPECT_EQ(row.errors[0].attempt, 1);

  t.gate().open();  // the hung work returns synced(), too late: its lease is gone
  ASSERT_TRUE(eventually([&] { return t.recorder().runs("a") == 2; }));
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::synced)));
  row = t.row("a");
  EXPECT_EQ(row.attempt, 2);
  ASSERT_EQ(row.errors.size(), 1u) << "the late outcome of attempt 1 is not recorded";
}

// ---- graceful stop ----------------------------------------------------------------------

void graceful_stop_past_grace_scheduled(StateMachine& t) {
  Client& worker = t.start(t.worker_config());
  worker.inform(Thing{"a", "block", 1});  // ignores its stop token
  ASSERT_TRUE(eventually([&] { return t.recorder().runs("a") == 1; }));
  ASSERT_EQ(t.state("a"), ResourceState::pending);

  std::thread stopper([&] { worker.stop(200ms); });
  // stop() waits for the worker thread, which is still in work(): the row is released
  // before the work returns.
  const bool released = eventually([&] {
    auto row = t.row("a");
    return row.state == ResourceState::scheduled && !row.lease_owner.has_value();
  });
  const int still_running = t.recorder().running();
  t.gate().open();
  stopper.join();
  ASSERT_TRUE(released);
  EXPECT_EQ(still_running, 1) << "released while work() was still running";
  const ResourceRow row = t.row("a");
  EXPECT_EQ(row.state, ResourceState::scheduled) << "the late synced() is not applied";
  EXPECT_EQ(row.attempt, 0) << "the attempt is given back";
  EXPECT_FALSE(row.lease_owner.has_value());
  EXPECT_FALSE(row.lease_expires_at.has_value());
  EXPECT_FALSE(row.synced_at.has_value());
  EXPECT_LE(ms_from_now(row.run_at), 0) << "another process takes it at once";
  EXPECT_TRUE(row.errors.empty());
}

// ---- expiry, invalidate, retry, retention -----------------------------------------------

void namespace_expiry_expired(StateMachine& t) {
  Config working = t.config();
  working.namespaces["exp"] = {.max_workers = 2, .resource_expiry = 300ms};
  Client& worker = t.start(working);
  worker.inform(Thing{"a", "sync", 1}, {.namespace_name = "exp"});
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::synced)));
  const ResourceRow synced = t.row("a");
  ASSERT_TRUE(synced.synced_at.has_value());
  worker.stop(1s);
  // The leader now works no namespace, so the expired row stays expired.
  Config leading = t.config();
  leading.maintenance_interval = 100ms;
  Client& leader = t.start(std::move(leading));
  ASSERT_TRUE(eventually([&] { return leader.is_leader(); }));
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::expired)));
  const ResourceRow expired = t.row("a");
  EXPECT_GE(expired.updated_at - *synced.synced_at, std::chrono::milliseconds(300))
      << "not before the TTL";
  EXPECT_LE(ms_from_now(expired.run_at), 0) << "runnable again";
  EXPECT_EQ(expired.generation, 1);
  EXPECT_EQ(expired.attempt, 0) << "a re-work starts with the full max_attempts budget";
  // Runnable: a worker of the namespace works it again.
  t.start(working);
  ASSERT_TRUE(eventually([&] { return t.recorder().runs("a") >= 2; }));
  EXPECT_TRUE(eventually([&] {
    auto row = t.row("a");
    return row.synced_at.has_value() && *row.synced_at > *synced.synced_at;
  }));
}

void invalidate_synced_expired(StateMachine& t) {
  Client& worker = t.start(t.worker_config());
  worker.inform(Thing{"a", "sync", 1});
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::synced)));
  const ResourceRow synced = t.row("a");

  const ResourceRow expired = worker.invalidate(Thing{"a", "sync", 1});
  EXPECT_EQ(expired.state, ResourceState::expired);
  EXPECT_LE(ms_from_now(expired.run_at), 0);
  EXPECT_EQ(expired.generation, 1);
  EXPECT_EQ(expired.attempt, 0) << "a re-work starts with the full max_attempts budget";
  EXPECT_EQ(expired.synced_at, synced.synced_at);
  // Expired is runnable: it is worked again.
  ASSERT_TRUE(eventually([&] { return t.recorder().runs("a") == 2; }));
  EXPECT_TRUE(eventually([&] {
    auto row = t.row("a");
    return row.state == ResourceState::synced && row.synced_at > synced.synced_at;
  }));
}

void retry_from(StateMachine& t, int max_attempts, ResourceState from) {
  Client& worker = t.start(t.worker_config());
  worker.inform(Thing{"a", "fail_once", 1}, {.max_attempts = max_attempts});
  ASSERT_TRUE(eventually(t.in_state("a", from)));
  ASSERT_EQ(t.row("a").attempt, 1);

  const ResourceRow retried = worker.retry<Thing>("a");
  EXPECT_EQ(retried.state, ResourceState::scheduled);
  EXPECT_EQ(retried.attempt, 0) << "attempts reset";
  EXPECT_LE(ms_from_now(retried.run_at), 0) << "scheduled now (the backoff was 1 h)";
  ASSERT_TRUE(eventually(t.in_state("a", ResourceState::synced)));
  EXPECT_EQ(t.recorder().runs("a"), 2);
  EXPECT_EQ(t.row("a").attempt, 1);
}

void retention_passed_removed(StateMachine& t) {
  Config cfg = t.config();
  cfg.cleaner_interval = 100ms;
  cfg.namespaces["keep"] = {.max_workers = 4,
                            .synced_retention = 300ms,
                            .deleted_retention = 300ms,
                            .degraded_retention = 300ms};
  Client& worker = t.start(std::move(cfg));
  auto events = worker.subscribe();
  const delta::InformOpts keep{.namespace_name = "keep"};
  worker.inform(Thing{"synced", "sync", 1}, keep);
  worker.inform(Thing{"deleted", "remove", 1}, keep);
  worker.inform(Thing{"degraded", "retry", 1}, {.namespace_name = "keep", .max_attempts = 1});
  worker.inform(Thing{"failed", "retry", 1}, {.namespace_name = "keep", .max_attempts = 5});
  worker.inform(Thing{"requeued", "requeue", 1}, keep);
  // Each reached its state first (events are published after the outcome is committed).
  std::map<std::string, delta::EventCategory> reached;
  while (reached.size() < 4) {
    auto event = events.next(5s);
    ASSERT_TRUE(event.has_value()) << "only " << reached.size() << " outcomes";
    reached[event->resource.object_id] = event->category;
  }
  EXPECT_EQ(reached["synced"], delta::EventCategory::synced);
  EXPECT_EQ(reached["deleted"], delta::EventCategory::deleted);
  EXPECT_EQ(reached["degraded"], delta::EventCategory::degraded);
  EXPECT_EQ(reached["failed"], delta::EventCategory::failed);

  EXPECT_TRUE(eventually([&] { return !t.exists("synced"); }));
  EXPECT_TRUE(eventually([&] { return !t.exists("deleted"); }));
  EXPECT_TRUE(eventually([&] { return !t.exists("degraded"); }));
  // Failed and scheduled rows are never removed, however old.
  EXPECT_TRUE(consistently(
      [&] {
        return t.exists("failed") && t.exists("requeued") &&
               t.state("failed") == ResourceState::failed &&
               t.state("requeued") == ResourceState::scheduled;
      },
      400ms));
}

const Row kRows[] = {
    {"inform_new_object", "-", "inform, new object", "scheduled", inform_new_object},
    {"inform_changed_from_scheduled", "scheduled", "inform, content changed", "scheduled",
     [](StateMachine& t) { inform_changed_from(t, kScheduledLater, ResourceState::scheduled); }},
    {"inform_changed_from_pending", "pending", "inform, content changed",
     "pending (re-scheduled by the finish)",
     [](StateMachine& t) { inform_changed_from(t, kPendingElsewhere, ResourceState::pending); }},
    {"inform_changed_from_synced", "synced", "inform, content changed", "scheduled",
     [](StateMachine& t) { inform_changed_from(t, kSynced, ResourceState::synced); }},
    {"inform_changed_from_failed", "failed", "inform, content changed", "scheduled",
     [](StateMachine& t) { inform_changed_from(t, kFailedLater, ResourceState::failed); }},
    {"inform_changed_from_degraded", "degraded", "inform, content changed", "scheduled",
     [](StateMachine& t) { inform_changed_from(t, kDegraded, ResourceState::degraded); }},
    {"inform_changed_from_expired", "expired", "inform, content changed", "scheduled",
     [](StateMachine& t) { inform_changed_from(t, kExpired, ResourceState::expired); }},
    {"inform_unchanged_synced_writes_nothing", "synced", "inform, unchanged", "synced",
     inform_unchanged_synced_writes_nothing},
    {"inform_unchanged_forced", "synced", "inform, unchanged, force", "scheduled",
     inform_unchanged_forced},
    {"inform_compare_newer_same_content", "synced", "inform, compare > 0", "scheduled",
     inform_compare_newer_same_content},
    {"inform_stale_from_scheduled", "scheduled", "inform, compare < 0", "unchanged",
     [](StateMachine& t) { inform_stale_from(t, kScheduledLater, ResourceState::scheduled); }},
    {"inform_stale_from_pending", "pending", "inform, compare < 0", "unchanged",
     [](StateMachine& t) { inform_stale_from(t, kPendingElsewhere, ResourceState::pending); }},
    {"inform_stale_from_synced", "synced", "inform, compare < 0", "unchanged",
     [](StateMachine& t) { inform_stale_from(t, kSynced, ResourceState::synced); }},
    {"inform_stale_from_failed", "failed", "inform, compare < 0", "unchanged",
     [](StateMachine& t) { inform_stale_from(t, kFailedLater, ResourceState::failed); }},
    {"inform_explicit_resurrects_deleted", "deleted", "explicit inform", "scheduled",
     inform_explicit_resurrects_deleted},
    {"claim_scheduled", "scheduled", "claim", "pending",
     [](StateMachine& t) { claim_from(t, "", ResourceState::scheduled); }},
    {"claim_failed_when_due", "failed", "claim", "pending",
     [](StateMachine& t) {
       claim_from(t, "state = 'failed', attempt = 2, run_at = now() - interval '1 second'",
                  ResourceState::failed);
     }},
    {"claim_expired", "expired", "claim", "pending",
     [](StateMachine& t) { claim_from(t, kExpired, ResourceState::expired); }},
    {"claim_skips_rows_not_runnable", "not runnable", "claim", "unchanged",
     claim_skips_rows_not_runnable},
    {"work_synced", "pending", "work returns synced", "synced", work_synced},
    {"work_synced_generation_moved", "pending", "work returns synced, generation moved",
     "scheduled", work_synced_generation_moved},
    {"work_retry_failed_with_backoff", "pending", "work fails", "failed",
     work_retry_failed_with_backoff},
    {"work_throws_failed", "pending", "work throws", "failed", work_throws_failed},
    {"work_times_out_failed", "pending", "work times out", "failed", work_times_out_failed},
    {"work_fails_max_attempts_degraded", "pending", "work fails at max_attempts", "degraded",
     work_fails_max_attempts_degraded},
    {"work_remove_deleted", "pending", "work returns delete", "deleted", work_remove_deleted},
    {"work_requeue_after_scheduled", "pending", "work returns requeue_after", "scheduled",
     work_requeue_after_scheduled},
    {"lease_expired_rescued_failed", "pending", "lease expired", "failed",
     lease_expired_rescued_failed},
    {"dead_owner_rescued_degraded", "pending", "lease owner dead, at max_attempts", "degraded",
     dead_owner_rescued_degraded},
    {"hung_work_rescued_failed", "pending", "work outlives its lease", "failed",
     hung_work_rescued_failed},
    {"graceful_stop_past_grace_scheduled", "pending", "graceful stop past the grace", "scheduled",
     graceful_stop_past_grace_scheduled},
    {"namespace_expiry_expired", "synced", "namespace expiry TTL passed", "expired",
     namespace_expiry_expired},
    {"invalidate_synced_expired", "synced", "invalidate", "expired", invalidate_synced_expired},
    {"retry_failed_scheduled", "failed", "retry", "scheduled",
     [](StateMachine& t) { retry_from(t, 5, ResourceState::failed); }},
    {"retry_degraded_scheduled", "degraded", "retry", "scheduled",
     [](StateMachine& t) { retry_from(t, 1, ResourceState::degraded); }},
    {"retention_passed_removed", "synced / deleted / degraded", "retention passed", "removed",
     retention_passed_removed},
};

TEST_P(state_machine_pgtest, Transition) {
  const Row& row = GetParam();
  SCOPED_TRACE(fmt::format("{}: {} -> {}", row.event, row.from, row.to));
  row.run(*this);
}

INSTANTIATE_TEST_SUITE_P(Table, state_machine_pgtest, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& param_info) {
                           return std::string(param_info.param.name);
                         });

}  // namespace
