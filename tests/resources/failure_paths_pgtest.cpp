// Failure paths of the resource engine against a live PostgreSQL: outcomes of an older
// generation, per-resource and negative work timeouts, leases lost while a resource waits
// in the prefetch buffer, stopping with a full buffer, work that outlives its deadline,
// the default backoff, the rescuer's reasons, and what publishes no event.
//
// Every test works in its own schema. Work blocks on the fixture's gate, so each test
// decides when work returns; what must not happen is watched with consistently() after a
// positive signal proved the machinery ran.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/client.hpp>
#include <delta/controller.hpp>
#include <delta/resource.hpp>

#include "support/gate.hpp"
#include "support/keyed_objects.hpp"
#include "support/pg_test.hpp"
#include "support/recorder.hpp"
#include "support/resource_test.hpp"
#include "support/test_controller.hpp"

namespace {

using delta::Client;
using delta::Config;
using delta::EventCategory;
using delta::InformStatus;
using delta::ResourceRow;
using delta::ResourceState;
using namespace delta::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A Probe's timeout_ms that makes its controller's work_timeout() throw.
constexpr std::int64_t kThrowingTimeout = -999;

// Worked by ProbeController; `timeout_ms` is what its work_timeout() returns (0: the
// default).
struct Probe {
  std::string key;
  std::string action = "sync";
  int version = 0;
  std::int64_t timeout_ms = 0;
  DELTA_KEYED_MEMBERS("probe", 4)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Probe, key, action, version, timeout_ms)

// Records every work() call in the Recorder. Actions:
//   sync          synced()
//   block_stop    waits for the gate or the stop token; retry("stopped") when stopped
//   overrun       waits for its stop token (the deadline), then for the gate, ignoring the
//                 token; synced()
//   late_remove, late_retry, late_throw, late_requeue
//                 version 1: waits for the gate (ignoring the stop token), then returns
//                 remove(), retry(), throws, or requeue_after(1 h); later versions: synced()
class ProbeController : public delta::Controller<Probe> {
 public:
  ProbeController(Recorder& recorder, Gate& gate) : recorder_(recorder), gate_(gate) {}

  delta::WorkResult work(delta::WorkContext& ctx, const delta::Resource<Probe>& r) override {
    const Probe& object = r.object;
    recorder_.enter({object.key, object.action, object.version, r.row.generation, r.row.attempt});
    struct Leave {
      Recorder& recorder;
      ~Leave() { recorder.leave(); }
    } leave{recorder_};
    const std::string& action = object.action;
    if (action == "sync") return delta::synced();
    if (action == "block_stop") {
      return gate_.wait(ctx.stop_token(), true) ? delta::synced() : delta::retry("stopped");
    }
    if (action == "overrun") {
      std::mutex mutex;
      std::condition_variable_any never;
      std::unique_lock lock(mutex);
      never.wait_for(lock, ctx.stop_token(), std::chrono::seconds(20), [] { return false; });
      if (ctx.stop_requested()) ++overran_;
      lock.unlock();
      gate_.wait(ctx.stop_token(), false);
      return delta::synced();
    }
    if (action.starts_with("late_")) {
      if (object.version >= 2) return delta::synced();
      gate_.wait(ctx.stop_token(), false);
      if (action == "late_remove") return delta::remove("gone");
      if (action == "late_retry") return delta::retry("too late");
      if (action == "late_throw") throw Broken("late failure");
      if (action == "late_requeue") return delta::requeue_after(std::chrono::hours(1));
    }
    throw std::logic_error("unknown probe action " + action);
  }

  std::chrono::milliseconds work_timeout(const delta::Resource<Probe>& r) const override {
    if (r.object.timeout_ms == kThrowingTimeout) throw std::runtime_error("no timeout today");
    return std::chrono::milliseconds(r.object.timeout_ms);
  }

  // How many "overrun" works saw their stop token fire.
  int overran() const { return overran_.load(); }

 private:
  Recorder& recorder_;
  Gate& gate_;
  std::atomic<int> overran_{0};
};

template <class Base>
class FailurePathsBase : public ResourceTest<Base, Thing> {
 public:
  FailurePathsBase() : ResourceTest<Base, Thing>("fp") {}

  // worker_config(max_workers) with a ProbeController beside the Thing controller.
  Config probe_config(int max_workers = 4) {
    Config cfg = this->worker_config(max_workers);
    probe_ = std::make_shared<ProbeController>(this->recorder(), this->gate());
    cfg.controllers.add(probe_);
    return cfg;
  }
  ProbeController& probe() { return *probe_; }

  ResourceRow probe_row(const std::string& id) { return this->row(id, Probe::kind); }
  ResourceState probe_state(const std::string& id) { return probe_row(id).state; }

  // Milliseconds from `id`'s attempted_at to its lease's expiry (-1: infinite), as stored.
  std::int64_t lease_ms(const std::string& id, std::string_view kind = Probe::kind) {
    return this->pool()
        .exec(fmt::format("SELECT CASE WHEN lease_expires_at = 'infinity' THEN -1 ELSE "
                          "(extract(epoch FROM lease_expires_at - attempted_at) * 1000)::bigint "
                          "END FROM {} WHERE kind = $1 AND object_id = $2",
                          this->table()),
              std::string(kind), id)
        .one()
        .template get<std::int64_t>(0);
  }

 private:
  std::shared_ptr<ProbeController> probe_;
};

using failure_paths_pgtest = FailurePathsBase<::testing::Test>;

// ---- outcomes of an older generation ----------------------------------------------------

class failure_paths_pgtest_generation
    : public FailurePathsBase<::testing::TestWithParam<const char*>> {};

// Generation 1's work returns (or throws) after generation 2 was informed: its outcome is
// not applied -- no deletion, no error, no backoff, no event -- and the row is runnable at
// once, so generation 2 is worked and synced.
TEST_P(failure_paths_pgtest_generation, AnOlderGenerationsOutcomeIsNeverApplied) {
  const std::string action = GetParam();
  Client& worker = start(probe_config());
  auto events = worker.subscribe();
  worker.inform(Probe{"a", action, 1});
  ASSERT_TRUE(eventually([&] { return recorder().runs("a") == 1; }));
  auto changed = worker.inform(Probe{"a", action, 2});
  ASSERT_EQ(changed.status, InformStatus::changed);
  ASSERT_EQ(changed.resource.state, ResourceState::pending) << "the running work keeps its row";
  gate().open();

  ASSERT_TRUE(eventually([&] { return probe_state("a") == ResourceState::synced; }))
      << "state " << delta::to_string(probe_state("a"));
  const ResourceRow r = probe_row("a");
  EXPECT_EQ(r.generation, 2);
  EXPECT_EQ(r.object.at("version"), 2);
  EXPECT_EQ(r.attempt, 1) << "generation 2's first attempt";
  EXPECT_TRUE(r.errors.empty()) << "generation 1's failure was recorded: " << r.errors[0].error;
  EXPECT_FALSE(r.deleted_at.has_value());
  const auto seen = recorder().seen("a");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].generation, 2);
  EXPECT_EQ(seen[1].version, 2);

  // Generation 1's outcome was written before generation 2 was claimed: an event of it
  // would be first in the buffer.
  auto first = events.next(5s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->category, EventCategory::synced) << first->error;
  EXPECT_EQ(first->resource.generation, 2);
  EXPECT_FALSE(events.next(0ms).has_value()) << "more than generation 2's event";
}

INSTANTIATE_TEST_SUITE_P(Outcomes, failure_paths_pgtest_generation,
                         ::testing::Values("late_remove", "late_retry", "late_throw",
                                           "late_requeue"));

// ---- work timeouts and leases -----------------------------------------------------------

// A controller's work_timeout() shorter than Config::work_timeout is the deadline.
TEST_F(failure_paths_pgtest, AShorterWorkTimeoutOverrideIsTheDeadline) {
  Client& worker = start(probe_config());  // Config::work_timeout: 1 min
  worker.inform(Probe{"a", "block_stop", 1, 100});
  ASSERT_TRUE(eventually([&] { return probe_state("a") == ResourceState::failed; }));
  const ResourceRow r = probe_row("a");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].type, "timeout");
  EXPECT_TRUE(contains(r.errors[0].error, "timed out after 100 ms")) << r.errors[0].error;
}

// A work_timeout() longer than Config::work_timeout, or negative (none): the work is not
// stopped at the kind's deadline, and its lease is renewed as it starts (to the timeout
// plus the stuck threshold, or for ever), so the rescuer leaves it alone after the claim's
// lease ran out.
TEST_F(failure_paths_pgtest, ALongerOrNegativeWorkTimeoutOverrideExtendsTheLease) {
  Config cfg = probe_config();
  cfg.work_timeout = 100ms;
  cfg.stuck_threshold = 200ms;  // the claim's lease: 300 ms
  Client& worker = start(std::move(cfg));
  worker.inform(Probe{"long", "block_stop", 1, 60'000});
  worker.inform(Probe{"none", "block_stop", 1, -1});
  ASSERT_TRUE(eventually([&] { return recorder().running() == 2; }));
  // Renewed from the start of the work, a little after the claim: at least timeout + stuck
  // threshold after it (the claim's own lease was 300 ms).
  EXPECT_GE(lease_ms("long"), 60'200);
  EXPECT_EQ(lease_ms("none"), -1) << "a negative timeout leases for ever";
  EXPECT_TRUE(consistently(
      [&] {
        return recorder().running() == 2 && probe_state("long") == ResourceState::pending &&
               probe_state("none") == ResourceState::pending;
      },
      600ms))
      << "stopped at the kind's timeout, or rescued after the claim's lease";
  gate().open();
  for (const char* id : {"long", "none"}) {
    ASSERT_TRUE(eventually([&] { return probe_state(id) == ResourceState::synced; })) << id;
    EXPECT_TRUE(probe_row(id).errors.empty()) << id;
    EXPECT_EQ(recorder().runs(id), 1) << id;
  }
}

// A negative Config::work_timeout: claims lease for ever and work is never stopped.
TEST_F(failure_paths_pgtest, ANegativeConfigWorkTimeoutLeasesForEver) {
  Config cfg = worker_config();
  cfg.work_timeout = -1ms;
  cfg.stuck_threshold = 100ms;
  Client& worker = start(std::move(cfg));
  worker.inform(Thing{"a", "block_stop", 1});
  ASSERT_TRUE(eventually([&] { return recorder().running() == 1; }));
  EXPECT_EQ(lease_ms("a", Thing::kind), -1);
  EXPECT_TRUE(consistently(
      [&] { return recorder().running() == 1 && state("a") == ResourceState::pending; }, 400ms));
  gate().open();
  ASSERT_TRUE(eventually(in_state("a", ResourceState::synced)));
  EXPECT_TRUE(row("a").errors.empty());
}

// A work_timeout() that throws: the resource is worked with Config::work_timeout.
TEST_F(failure_paths_pgtest, AThrowingWorkTimeoutFallsBackToTheDefault) {
  Config cfg = probe_config();
  cfg.work_timeout = 100ms;
  Client& worker = start(std::move(cfg));
  worker.inform(Probe{"a", "block_stop", 1, kThrowingTimeout});
  ASSERT_TRUE(eventually([&] { return probe_state("a") == ResourceState::failed; }));
  const ResourceRow r = probe_row("a");
  EXPECT_EQ(recorder().runs("a"), 1) << "worked despite the throw";
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].type, "timeout");
  EXPECT_TRUE(contains(r.errors[0].error, "timed out after 100 ms")) << r.errors[0].error;
  // The client goes on working.
  worker.inform(Probe{"b", "sync", 1});
  EXPECT_TRUE(eventually([&] { return probe_state("b") == ResourceState::synced; }));
}

// A resource that waited in the prefetch buffer longer than half the stuck threshold has
// its lease renewed before it is worked; when the lease went to someone else meanwhile,
// it is not worked here.
TEST_F(failure_paths_pgtest, ALeaseTakenOverInTheBufferIsNotWorked) {
  Config cfg = worker_config(1);  // one worker: "b" waits in the buffer behind "a"
  cfg.stuck_threshold = 100ms;    // the lease: 1 min + 100 ms, not renewed in the buffer
  Client& worker = start(std::move(cfg));
  worker.inform(Thing{"a", "block", 1});
  ASSERT_TRUE(eventually([&] { return recorder().running() == 1; }));
  worker.inform(Thing{"b", "sync", 1});
  ASSERT_TRUE(eventually(in_state("b", ResourceState::pending)));
  ASSERT_EQ(row("b").lease_owner, worker.id());
  // Taken by a live client (one the rescuer leaves alone).
  pool().exec(
      fmt::format("INSERT INTO {} (id, heartbeat_at) VALUES ('thief', now() + interval '1 hour')",
                  table("delta_client")));
  set("b", "lease_owner = 'thief'");
  // Longer than half the stuck threshold since the claim.
  ASSERT_TRUE(eventually([&] {
    return pool()
        .exec(fmt::format("SELECT now() - attempted_at > interval '80 milliseconds' FROM {} "
                          "WHERE kind = 'thing' AND object_id = 'b'",
                          table()))
        .one()
        .get<bool>(0);
  }));
  gate().open();
  ASSERT_TRUE(eventually(in_state("a", ResourceState::synced)));
  EXPECT_TRUE(consistently(
      [&] {
        const ResourceRow b = row("b");
        return recorder().runs("b") == 0 && b.state == ResourceState::pending &&
               b.lease_owner == "thief";
      },
      300ms))
      << "worked without its lease";
  // The worker is free again.
  worker.inform(Thing{"c", "sync", 1});
  EXPECT_TRUE(eventually(in_state("c", ResourceState::synced)));
}

// Work that ignores its stop token but returns before its lease runs out: its outcome is
// applied (after the lease it is fenced: state_machine_pgtest's hung_work_rescued_failed).
TEST_F(failure_paths_pgtest, WorkPastItsDeadlineButWithinItsLeaseIsApplied) {
  Config cfg = probe_config();
  cfg.work_timeout = 100ms;
  cfg.stuck_threshold = 1min;
  Client& worker = start(std::move(cfg));
  auto events = worker.subscribe();
  worker.inform(Probe{"a", "overrun", 1});
  ASSERT_TRUE(eventually([&] { return probe().overran() == 1; })) << "the deadline never came";
  ASSERT_EQ(probe_state("a"), ResourceState::pending);
  gate().open();
  ASSERT_TRUE(eventually([&] { return probe_state("a") == ResourceState::synced; }));
  const ResourceRow r = probe_row("a");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.attempt, 1);
  EXPECT_TRUE(r.synced_at.has_value());
  EXPECT_EQ(recorder().runs("a"), 1);
  auto event = events.next(5s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->category, EventCategory::synced);
}

// ---- stopping ---------------------------------------------------------------------------

// stop() releases what was claimed but not started at once -- scheduled, runnable now, the
// attempt given back -- while the running work goes on within the grace.
TEST_F(failure_paths_pgtest, StopReleasesPrefetchedResourcesAtOnce) {
  Client& worker = start(worker_config(1));
  worker.inform(Thing{"a", "block", 1});
  ASSERT_TRUE(eventually([&] { return recorder().running() == 1; }));
  worker.inform_many(std::vector<Thing>{{"b", "sync", 1}, {"c", "sync", 1}});
  ASSERT_TRUE(eventually([&] { return count("state = 'pending'") == 3; }))
      << "b and c were not claimed into the buffer";
  ASSERT_EQ(row("b").attempt, 1);

  std::thread stopper([&] { worker.stop(10s); });
  const bool released = eventually([&] { return count("state = 'scheduled'") == 2; });
  const int running = recorder().running();
  const ResourceState a_state = state("a");
  gate().open();
  stopper.join();
  ASSERT_TRUE(released) << "the buffer was not released";
  EXPECT_EQ(running, 1) << "released before the running work returned";
  EXPECT_EQ(a_state, ResourceState::pending);
  for (const char* id : {"b", "c"}) {
    const ResourceRow r = row(id);
    EXPECT_EQ(r.state, ResourceState::scheduled) << id;
    EXPECT_EQ(r.attempt, 0) << id << ": the attempt is given back";
    EXPECT_LE(ms_from_now(r.run_at), 0) << id << ": runnable at once";
    EXPECT_FALSE(r.lease_owner.has_value()) << id;
    EXPECT_FALSE(r.lease_expires_at.has_value()) << id;
    EXPECT_TRUE(r.errors.empty()) << id;
    EXPECT_EQ(recorder().runs(id), 0) << id;
  }
  EXPECT_EQ(state("a"), ResourceState::synced) << "the running work finished within the grace";
}

// ---- backoff, rescue reasons, events ----------------------------------------------------

// Without Config::resource_backoff, a failed resource waits attempt^4 s (+-10%).
TEST_F(failure_paths_pgtest, TheDefaultBackoffIsPolynomial) {
  Config cfg = worker_config();
  cfg.resource_backoff = nullptr;
  Client& worker = start(std::move(cfg));
  worker.inform(Thing{"a", "retry", 1});
  auto delay_ms = [&] {
    const ResourceRow r = row("a");
    return std::chrono::duration_cast<std::chrono::milliseconds>(r.run_at - r.updated_at).count();
  };
  ASSERT_TRUE(eventually([&] { return state("a") == ResourceState::failed; }));
  EXPECT_EQ(row("a").attempt, 1);
  const auto first = delay_ms();
  EXPECT_GE(first, 900);
  EXPECT_LE(first, 1100);
  ASSERT_TRUE(eventually([&] {
    const ResourceRow r = row("a");
    return r.attempt == 2 && r.state == ResourceState::failed;
  }));
  const auto second = delay_ms();
  EXPECT_GE(second, 14'400) << "2^4 s - 10%";
  EXPECT_LE(second, 17'600) << "2^4 s + 10%";
}

// The rescuer's reasons for a client that stopped and one that stopped heartbeating.
TEST_F(failure_paths_pgtest, RescueNamesAStoppedAndASilentClient) {
  Client& leader = start(config());  // the only client leads; it works nothing
  auto events = leader.subscribe({EventCategory::failed});
  pool().exec(
      fmt::format("INSERT INTO {} (id, heartbeat_at, stopped_at) VALUES "
                  "('stopped-client', now(), now()), "
                  "('silent-client', now() - interval '10 seconds', NULL)",
                  table("delta_client")));
  leader.inform(Thing{"s", "sync", 1});
  leader.inform(Thing{"h", "sync", 1});
  const char* const leased =
      "state = 'pending', attempt = 1, attempted_at = now(), lease_owner = '{}', "
      "lease_expires_at = now() + interval '1 hour'";
  set("s", fmt::format(fmt::runtime(leased), "stopped-client"));
  set("h", fmt::format(fmt::runtime(leased), "silent-client"));
  ASSERT_TRUE(eventually([&] { return count("state = 'failed'") == 2; }));
  const std::map<std::string, std::string> reasons = {
      {"s", "its client stopped-client stopped"},
      {"h", "its client silent-client stopped heartbeating"}};
  for (const auto& [id, reason] : reasons) {
    const ResourceRow r = row(id);
    ASSERT_EQ(r.errors.size(), 1u) << id;
    EXPECT_EQ(r.errors[0].type, "rescue") << id;
    EXPECT_EQ(r.errors[0].error, "rescued: " + reason) << id;
    EXPECT_LE(ms_from_now(r.run_at), 0) << id;
  }
  std::map<std::string, std::string> published;
  for (int i = 0; i < 2; ++i) {
    auto event = events.next(5s);
    ASSERT_TRUE(event.has_value());
    published[event->resource.object_id] = event->error;
  }
  EXPECT_EQ(published["s"], "rescued: " + reasons.at("s"));
  EXPECT_EQ(published["h"], "rescued: " + reasons.at("h"));
}

// requeue_after publishes nothing: the next event is the probe's.
TEST_F(failure_paths_pgtest, RequeueAfterPublishesNoEvent) {
  Client& worker = start(worker_config());
  auto events = worker.subscribe();
  worker.inform(Thing{"r", "requeue", 1});
  ASSERT_TRUE(eventually([&] {
    const ResourceRow r = row("r");
    return r.state == ResourceState::scheduled && r.attempted_at.has_value();
  })) << "the requeue was not written";
  worker.inform(Thing{"probe", "sync", 1});
  auto event = events.next(5s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->resource.object_id, "probe") << "requeue_after published an event";
  EXPECT_FALSE(events.next(0ms).has_value());
}

// Subscription::close() ends one subscription: what it buffered is still read, then next()
// returns at once; nothing more is buffered or counted as dropped, and other subscriptions
// go on.
TEST_F(failure_paths_pgtest, ClosingASubscriptionEndsOnlyIt) {
  Client& worker = start(worker_config());
  auto closing = worker.subscribe();
  auto open = worker.subscribe();
  worker.inform(Thing{"x", "sync", 1});
  auto first = open.next(5s);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->resource.object_id, "x");

  closing.close();
  EXPECT_TRUE(closing.closed());
  EXPECT_FALSE(open.closed());
  auto buffered = closing.next(5s);
  ASSERT_TRUE(buffered.has_value()) << "an event buffered before close() is lost";
  EXPECT_EQ(buffered->resource.object_id, "x");

  worker.inform(Thing{"y", "sync", 1});
  auto second = open.next(5s);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->resource.object_id, "y");
  const auto begin = Clock::now();
  EXPECT_FALSE(closing.next(30s).has_value()) << "a closed subscription received an event";
  EXPECT_LT(Clock::now() - begin, 10s) << "next() waited on a closed subscription";
  EXPECT_EQ(closing.dropped(), 0u) << "events after close() are not drops";
}

}  // namespace
