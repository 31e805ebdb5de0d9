// A pool far smaller than the work against a live PostgreSQL: 16 informing threads and 8
// workers that inform from their work share 2 connections without a deadlock and without
// an error; a caller gets PoolTimeoutError only once its own acquire timeout has passed,
// while the client's loops count the same starvation, back off and carry on.
#include <atomic>
#include <chrono>
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

}  // namespace
