// A pool far smaller than the work against a live PostgreSQL: 16 informing threads and 8
// workers that inform from their work share 2 connections without a deadlock and without
// an error; a caller gets PoolTimeoutError only once its own acquire timeout has passed,
// while the client's loops count the same starvation, back off and carry on; and 32
// workers holding the pool's connections from their work never keep the client's
// heartbeat from being recorded, so that nothing of it is rescued while it lives.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <delta/delta.hpp>

#include "support/maintenance_config.hpp"
#include "support/metric_value.hpp"
#include "support/pg_test.hpp"

namespace {

using delta::testing::eventually;
using delta::testing::metric_value;
using delta::testing::ScratchSchema;
using namespace std::chrono_literals;

struct Account {
  std::string key;
  static constexpr std::string_view kind = "pool_account";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.parallelism = 8}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Account, key)

struct Audit {
  std::string key;
  static constexpr std::string_view kind = "pool_audit";
  std::string id() const { return key; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Audit, key)

// Working an account informs an audit object through the same client, and so the same pool.
class AccountController : public delta::Controller<Account> {
 public:
  delta::WorkResult work(delta::WorkContext& ctx,
                         const delta::Resource<Account>& account) override {
    ctx.client().inform(Audit{"audit-" + account.object.key});
    return delta::synced();
  }
};

class AuditController : public delta::Controller<Audit> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Audit>&) override {
    return delta::synced();
  }
};

delta::Config small_pool_config(const std::string& schema) {
  auto config = delta::testing::maintenance_config(schema);
  config.logger = delta::null_logger();  // starved loops would fill the log
  config.controllers.add(std::make_shared<AccountController>());
  config.controllers.add(std::make_shared<AuditController>());
  config.namespaces["default"] = {.max_workers = 8};
  return config;
}

TEST(pool_exhaustion_pgtest, SixteenInformersAndEightWorkersShareTwoConnectionsWithoutError) {
  constexpr int kThreads = 16, kPerThread = 40;
  ScratchSchema schema("pool2", delta::testing::SchemaStart::migrated);
  auto pool = delta::pg::Pool::create("", {.max_connections = 2, .acquire_timeout = 30s});
  delta::Client client(pool, small_pool_config(schema.name()));
  client.start();

  std::atomic<int> failures{0};
  std::string failure;
  std::mutex failure_mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        try {
          client.inform(Account{std::to_string(t) + "-" + std::to_string(i)});
        } catch (const std::exception& e) {
          ++failures;
          std::lock_guard lock(failure_mutex);
          failure = e.what();
        }
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(failures, 0) << failure;
  ASSERT_TRUE(eventually(
      [&] {
        return schema.count("delta_resource WHERE kind = 'pool_account' AND state = 'synced'") ==
                   kThreads * kPerThread &&
               schema.count("delta_resource WHERE kind = 'pool_audit' AND state = 'synced'") ==
                   kThreads * kPerThread;
      },
      60s));
  // Never more than the two connections, and nobody gave up waiting.
  const auto metrics = client.metrics();
  EXPECT_EQ(metric_value(metrics, "delta_pool_timeouts_total"), 0);
  EXPECT_GT(metric_value(metrics, "delta_pool_waits_total"), 0);  // it was contended
  EXPECT_EQ(schema.count("delta_resource WHERE cardinality(errors) > 0"), 0);
  client.stop(5s);
}

TEST(pool_exhaustion_pgtest, ACallerTimesOutOnlyAfterItsOwnAcquireTimeoutAndTheClientCarriesOn) {
  ScratchSchema schema("pool_timeout", delta::testing::SchemaStart::migrated);
  auto pool = delta::pg::Pool::create("", {.max_connections = 2, .acquire_timeout = 200ms});
  delta::Client client(pool, small_pool_config(schema.name()));
  client.start();
  client.inform(Account{"first"});
  ASSERT_TRUE(
      eventually([&] { return schema.count("delta_resource WHERE state = 'synced'") == 2; }));

  {
    // Someone else holds every connection of the pool.
    auto first = pool->acquire();
    auto second = pool->acquire();
    const auto started = std::chrono::steady_clock::now();
    EXPECT_THROW(client.inform(Account{"starved"}), delta::PoolTimeoutError);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);  // not before its timeout
    // The client's own loops starve too: they count it and back off, none dies.
    ASSERT_TRUE(eventually(
        [&] {
          return metric_value(client.metrics(), "delta_background_errors_total",
                              {{"loop", "resource claim"}}) >= 1;
        },
        10s));
    EXPECT_TRUE(client.health().ready) << client.health().reason;  // the heartbeat has its own
  }
  client.inform(Account{"after"});
  EXPECT_TRUE(
      eventually([&] { return schema.count("delta_resource WHERE state = 'synced'") == 4; }));
  EXPECT_GE(metric_value(client.metrics(), "delta_pool_timeouts_total"), 2);
  client.stop(5s);
}

// ---- the heartbeat of a client whose pool is saturated -------------------------------

struct Holder {
  std::string key;
  static constexpr std::string_view kind = "pool_holder";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.parallelism = 32}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Holder, key)

// Every work holds a connection of the client's own pool for `hold`, then asks to be worked
// again at once (until `done`): 32 workers on a pool of 2 keep it saturated, every other
// user of the pool -- claims, the completer -- waiting behind them.
class HoldingController : public delta::Controller<Holder> {
 public:
  HoldingController(std::shared_ptr<delta::pg::Pool> pool, std::chrono::milliseconds hold)
      : pool_(std::move(pool)), hold_(hold) {}
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Holder>&) override {
    {
      auto conn = pool_->acquire();
      const int now_holding = ++holding;
      int seen = most_held.load();
      while (now_holding > seen && !most_held.compare_exchange_weak(seen, now_holding)) {
      }
      std::this_thread::sleep_for(hold_);
      --holding;
    }
    ++works;
    return done ? delta::synced() : delta::requeue_after(std::chrono::milliseconds(0));
  }

  std::atomic<int> holding{0};
  std::atomic<int> most_held{0};
  std::atomic<std::int64_t> works{0};
  std::atomic<bool> done{false};

 private:
  std::shared_ptr<delta::pg::Pool> pool_;
  std::chrono::milliseconds hold_;
};

TEST(pool_exhaustion_pgtest, ThirtyTwoWorkersHoldingTheTwoConnectionsNeverStopTheHeartbeat) {
  constexpr int kResources = 32;  // one for each worker
  constexpr auto kClientTtl = 1500ms;
  ScratchSchema schema("pool_heartbeat", delta::testing::SchemaStart::migrated);
  // The watcher leads and rescues every 100 ms whatever it takes for dead: it has a pool
  // of its own and works another namespace.
  auto watcher_config = delta::testing::maintenance_config(schema.name());
  watcher_config.id = "watcher";
  watcher_config.client_ttl = kClientTtl;
  watcher_config.controllers.add(
      std::make_shared<HoldingController>(schema.shared_pool(), std::chrono::milliseconds(0)));
  watcher_config.namespaces["watched"] = {.max_workers = 1};
  delta::Client watcher(schema.shared_pool(), watcher_config);
  watcher.start();
  ASSERT_TRUE(eventually([&] { return watcher.is_leader(); }, 10s));

  auto pool = delta::pg::Pool::create("", {.max_connections = 2, .acquire_timeout = 30s});
  // 32 works of 150 ms in turn on 2 connections: whatever waited for the pool behind
  // them would wait about 2.4 s, longer than the client TTL.
  auto holder = std::make_shared<HoldingController>(pool, std::chrono::milliseconds(150));
  auto config = delta::testing::maintenance_config(schema.name());
  config.id = "saturated";
  config.logger = delta::null_logger();  // starved loops would fill the log
  config.heartbeat_interval = 300ms;
  config.client_ttl = kClientTtl;
  config.controllers.add(holder);
  config.namespaces["default"] = {.max_workers = 32};
  delta::Client client(pool, config);
  client.start();
  std::vector<Holder> holders;
  for (int n = 0; n < kResources; ++n)
    holders.push_back({"h" + std::to_string(n)});
  client.inform_many(holders);

  // The machinery runs: the pool is saturated (both connections held by work at once,
  // others waiting), and the leader's rescuer rescues the resource of a client it takes
  // for dead (in a namespace nobody works).
  watcher.inform(Holder{"ghost-owned"}, {.namespace_name = "elsewhere"});
  schema.pool().exec(schema.sql(
      "UPDATE {s}.delta_resource SET state = 'pending', attempt = 1, attempted_at = now(), "
      "lease_owner = 'ghost', lease_expires_at = now() + interval '1 hour' "
      "WHERE object_id = 'ghost-owned'"));
  ASSERT_TRUE(eventually(
      [&] {
        return holder->most_held == 2 &&
               metric_value(client.metrics(), "delta_pool_waits_total") > 0 &&
               schema.count(
                   "delta_resource WHERE object_id = 'ghost-owned' AND "
                   "cardinality(errors) = 1") == 1;
      },
      10s))
      << "most connections held at once " << holder->most_held;
  const std::int64_t works_before = holder->works;

  // For more than twice the client TTL while the pool stays saturated: the client's
  // heartbeat is never older than the TTL, it is never fenced, and nothing of it is rescued.
  std::int64_t oldest_heartbeat_ms = 0;
  const bool alive = delta::testing::consistently(
      [&] {
        const auto age = schema.scalar(
            "SELECT (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint FROM "
            "{s}.delta_client WHERE id = 'saturated'");
        oldest_heartbeat_ms = std::max(oldest_heartbeat_ms, age);
        return age < kClientTtl.count() && metric_value(client.metrics(), "delta_fenced") == 0 &&
               schema.count(
                   "delta_resource WHERE namespace = 'default' AND "
                   "cardinality(errors) > 0") == 0;
      },
      2 * kClientTtl + 500ms);
  EXPECT_TRUE(alive) << "heartbeat " << oldest_heartbeat_ms << " ms old; rescued: "
                     << schema.count(
                            "delta_resource WHERE namespace = 'default' AND "
                            "cardinality(errors) > 0");
  const std::int64_t works_during = holder->works - works_before;
  EXPECT_GT(works_during, 10) << "the work did not go on through the window";
  EXPECT_GT(holder->most_held, 1);
  EXPECT_LE(holder->most_held, 2);

  // The work ends: everything synced at attempt 1 with no error (never rescued).
  holder->done = true;
  EXPECT_TRUE(eventually(
      [&] {
        return schema.count("delta_resource WHERE namespace = 'default' AND state = 'synced'") ==
               kResources;
      },
      30s));
  EXPECT_EQ(schema.count("delta_resource WHERE namespace = 'default' AND "
                         "(cardinality(errors) > 0 OR attempt <> 1)"),
            0);
  std::printf("[ figures  ] %lld works while watched; oldest heartbeat seen %lld ms (TTL %lld)\n",
              static_cast<long long>(works_during), static_cast<long long>(oldest_heartbeat_ms),
              static_cast<long long>(kClientTtl.count()));
  client.stop(5s);
  watcher.stop(5s);
}

}  // namespace
