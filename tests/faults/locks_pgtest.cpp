// Locks and timeouts against a live PostgreSQL: an operator holding an exclusive lock on
// delta's tables stalls a client, which carries on once the lock is gone; with a 50 ms
// statement_timeout on the client's role the same lock makes its loops fail — each loop
// counts the errors, logs them, backs off and retries — and nothing is lost or dies.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <delta/delta.hpp>

#include "support/maintenance_config.hpp"
#include "support/metric_value.hpp"
#include "support/pg_test.hpp"
#include "support/role.hpp"

namespace {

using delta::testing::eventually;
using delta::testing::metric_value;
using delta::testing::ScratchSchema;
using namespace std::chrono_literals;

struct Item {
  std::string key;
  int work_ms = 0;
  static constexpr std::string_view kind = "locked_item";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() { return {.parallelism = 4}; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key, work_ms)

class ItemController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>& item) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(item.object.work_ms));
    return delta::synced();
  }
};

struct Tick {
  int n = 0;
  static constexpr std::string_view kind = "locked_tick";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Tick, n)

class TickWorker : public delta::jobs::Worker<Tick> {
 public:
  delta::jobs::JobResult work(delta::jobs::JobContext&, const delta::jobs::Job<Tick>&) override {
    return delta::jobs::complete();
  }
};

delta::Config workload_config(const std::string& schema) {
  auto config = delta::testing::maintenance_config(schema);
  config.controllers.add(std::make_shared<ItemController>());
  config.namespaces["default"] = {.max_workers = 4};
  config.workers.add(std::make_shared<TickWorker>());
  config.queues["default"] = {.max_workers = 4};
  return config;
}

// Holds ACCESS EXCLUSIVE locks on delta's resource and job tables, as an operator's
// migration or VACUUM FULL would, from `lock()` until `release()`.
class TableLock {
 public:
  explicit TableLock(ScratchSchema& schema) : schema_(schema) {}
  ~TableLock() { release(); }
  void lock() {
    tx_.emplace(schema_.pool().begin());
    tx_->exec("LOCK TABLE " + schema_.name() + ".delta_resource, " + schema_.name() +
              ".delta_job IN ACCESS EXCLUSIVE MODE");
  }
  void release() {
    if (tx_) tx_->commit();
    tx_.reset();
  }

 private:
  ScratchSchema& schema_;
  std::optional<delta::pg::Transaction> tx_;
};

TEST(locks_pgtest, AnOperatorsTableLockStallsTheClientWhichCarriesOnAfterwards) {
  ScratchSchema schema("locks", delta::testing::SchemaStart::migrated);
  delta::Client client(schema.shared_pool(), workload_config(schema.name()));
  client.start();
  std::vector<Item> before;
  for (int i = 0; i < 100; ++i)
    before.push_back({"before-" + std::to_string(i)});
  client.inform_many(before);
  ASSERT_TRUE(
      eventually([&] { return schema.count("delta_resource WHERE state = 'synced'") == 100; }));

  TableLock lock(schema);
  lock.lock();
  // What callers do meanwhile waits for the lock; it must not fail.
  std::atomic<bool> informed{false};
  std::string inform_error;
  std::thread informer([&] {
    try {
      std::vector<Item> during;
      for (int i = 0; i < 100; ++i)
        during.push_back({"during-" + std::to_string(i)});
      client.inform_many(during);
      for (int i = 0; i < 50; ++i)
        client.jobs().insert(Tick{1000 + i});
      informed = true;
    } catch (const std::exception& e) {
      inform_error = e.what();
    }
  });
  // Locked for two seconds (an operator's ten are the same, only longer): the client stays
  // ready (its heartbeat goes to another table on a connection of its own) and unfenced.
  EXPECT_TRUE(delta::testing::consistently(
      [&] {
        return client.health().ready && metric_value(client.metrics(), "delta_fenced") == 0 &&
               !informed;
      },
      2s));
  lock.release();
  informer.join();
  EXPECT_TRUE(informed) << inform_error;
  ASSERT_TRUE(eventually([&] {
    return schema.count("delta_resource WHERE state = 'synced'") == 200 &&
           schema.count("delta_job WHERE state = 'completed'") == 50;
  }));
  // Every loop is alive: new work after the episode is done too.
  client.inform(Item{"after"});
  client.jobs().insert(Tick{2000});
  EXPECT_TRUE(eventually([&] {
    return schema.count("delta_resource WHERE state = 'synced'") == 201 &&
           schema.count("delta_job WHERE state = 'completed'") == 51;
  }));
  EXPECT_EQ(metric_value(client.metrics(), "delta_fence_episodes_total"), 0);
}

TEST(locks_pgtest, WithAShortStatementTimeoutTheLoopsFailBackOffAndCarryOn) {
  ScratchSchema schema("timeouts", delta::testing::SchemaStart::migrated);
  delta::testing::Role role(schema.pool(), "delta_timeout");
  schema.pool().exec("ALTER ROLE " + role.name() + " SET statement_timeout = '50ms'");
  std::mutex logged_mutex;
  std::vector<std::string> logged;
  auto config = workload_config(schema.name());
  config.logger = delta::Logger([&](const delta::LogRecord& record) {
    std::lock_guard lock(logged_mutex);
    logged.push_back(delta::format_text(record));
  });
  delta::Client client(delta::pg::Pool::create(role.url(), {.max_connections = 12}), config);
  client.start();

  // Work in flight when the lock comes: its outcomes are written while it holds.
  std::vector<Item> slow;
  for (int i = 0; i < 8; ++i)
    slow.push_back({"slow-" + std::to_string(i), 300});
  auto admin = schema.shared_pool();
  auto informer_config = delta::testing::maintenance_config(schema.name());
  informer_config.controllers.add(std::make_shared<ItemController>());
  informer_config.workers.add(std::make_shared<TickWorker>());
  delta::Client informer(admin, informer_config);  // informs and inserts; works nothing
  informer.inform_many(slow);
  for (int i = 0; i < 20; ++i)
    informer.inform(Item{"queued-" + std::to_string(i)});
  ASSERT_TRUE(eventually([&] {
    return schema.count("delta_resource WHERE state = 'pending' AND object_id LIKE 'slow-%'") >= 4;
  }));

  TableLock lock(schema);
  lock.lock();
  // While it holds: the claim and fetch loops' statements time out (57014) and are retried
  // with backoff; the outcomes of the slow work cannot be written.
  ASSERT_TRUE(eventually(
      [&] {
        const auto metrics = client.metrics();
        return metric_value(metrics, "delta_background_errors_total",
                            {{"loop", "resource claim"}}) >= 2 &&
               metric_value(metrics, "delta_background_errors_total", {{"loop", "job fetch"}}) >=
                   2 &&
               metric_value(metrics, "delta_background_errors_total",
                            {{"loop", "resource completer"}}) >= 1;
      },
      10s));
  std::this_thread::sleep_for(1s);  // the episode: a second of failing statements
  const auto during = client.metrics();
  lock.release();
  EXPECT_EQ(metric_value(during, "delta_fenced"), 0);  // the heartbeat has its own timeout

  // Afterwards everything is done and every loop carries on.
  for (int i = 0; i < 20; ++i)
    informer.jobs().insert(Tick{i});
  ASSERT_TRUE(eventually([&] {
    return schema.count("delta_resource WHERE state = 'synced'") == 28 &&
           schema.count("delta_job WHERE state = 'completed'") == 20;
  }));
  client.inform(Item{"after"});
  EXPECT_TRUE(
      eventually([&] { return schema.count("delta_resource WHERE state = 'synced'") == 29; }));
  EXPECT_TRUE(client.health().ready) << client.health().reason;

  // The backoff held: a loop retrying every 2 ms would have failed hundreds of times.
  const auto after = client.metrics();
  EXPECT_LT(metric_value(after, "delta_background_errors_total", {{"loop", "resource claim"}}), 40);
  EXPECT_LT(metric_value(after, "delta_background_errors_total", {{"loop", "job fetch"}}), 40);
  client.stop(5s);
  std::lock_guard guard(logged_mutex);
  bool claim_logged = false, timeout_named = false;
  for (const auto& line : logged) {
    claim_logged = claim_logged || line.find("claim failed") != std::string::npos;
    timeout_named = timeout_named || line.find("statement timeout") != std::string::npos;
  }
  EXPECT_TRUE(claim_logged);
  EXPECT_TRUE(timeout_named);
}

}  // namespace
