// Fresh changes first (docs/flow-control.md) against a live PostgreSQL: a resource informed
// new or changed is claimed before one due again because of a retry, an expiry, an
// invalidation or a process_existing resync; InformOpts::priority chooses the class.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <delta/delta.hpp>

#include "support/keyed_objects.hpp"
#include "support/maintenance_config.hpp"
#include "support/pg_test.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using delta::testing::eventually;

struct Item {
  std::string key;
  int value = 0;
  static constexpr std::string_view kind = "item";
  std::string id() const { return key; }
  static delta::ObjectSettings settings() {
    return {.parallelism = 10, .inform_interval = std::chrono::milliseconds(-1)};
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, key, value)

// Records what it works, in order, with the start time and the class it was due in.
class OrderController : public delta::Controller<Item> {
 public:
  explicit OrderController(std::chrono::milliseconds work = 0ms, std::string fail = {})
      : work_(work), fail_(std::move(fail)) {}
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>& r) override {
    {
      std::lock_guard lock(mutex_);
      order_.push_back(r.object.key);
      started_[r.object.key] = Clock::now();
      priority_[r.object.key] = r.row.priority;
    }
    if (work_ > 0ms) std::this_thread::sleep_for(work_);
    if (r.object.key == fail_ && failures_++ == 0) throw std::runtime_error("first try fails");
    return delta::synced();
  }
  std::vector<std::string> order() const {
    std::lock_guard lock(mutex_);
    return order_;
  }
  std::optional<Clock::time_point> started(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = started_.find(key);
    if (it == started_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<delta::Priority> priority(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = priority_.find(key);
    if (it == priority_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::chrono::milliseconds work_;
  std::string fail_;
  std::atomic<int> failures_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> order_;
  std::map<std::string, Clock::time_point> started_;
  std::map<std::string, delta::Priority> priority_;
};

std::vector<Item> items(const std::string& prefix, int count) {
  std::vector<Item> out;
  for (int i = 0; i < count; ++i)
    out.push_back({prefix + std::to_string(i), 0});
  return out;
}

class priority_pgtest : public ::testing::Test {
 protected:
  delta::Config config(std::shared_ptr<OrderController> controller, int max_workers) {
    delta::Config c;
    c.schema = schema_.name();
    c.controllers.add(std::move(controller));
    c.namespaces["default"] = {.max_workers = max_workers};
    c.poll_interval = 50ms;
    c.logger = delta::stderr_logger(delta::LogLevel::warn);
    return c;
  }
  // The stored class of `key` (0 fresh, 1 background).
  std::int64_t stored_priority(const std::string& key) {
    return schema_.scalar(
        "SELECT priority FROM {s}.delta_resource WHERE kind = 'item' AND object_id = '" + key +
        "'");
  }
  // Marks every resource of the kind synced, as a finished sync would (a fixture
  // shortcut: the state is what the test starts from, not what it checks).
  void mark_synced() {
    schema_.pool().exec(schema_.sql(
        "UPDATE {s}.delta_resource SET state = 'synced', synced_at = now(), attempt = 1 "
        "WHERE kind = 'item'"));
  }

  delta::testing::ScratchSchema schema_{"prio", delta::testing::SchemaStart::migrated};
};

TEST_F(priority_pgtest, FreshChangesAreClaimedBeforeInvalidatedOnes) {
  auto controller = std::make_shared<OrderController>();
  delta::Client client(delta::testing::make_pool(), config(controller, 1));
  // 200 synced resources invalidated (due first by run_at), then 10 new ones.
  client.inform_many(items("old", 200));
  mark_synced();
  for (const auto& item : items("old", 200))
    client.invalidate(item);
  EXPECT_EQ(schema_.count("delta_resource WHERE state = 'expired' AND priority = 1"), 200);
  client.inform_many(items("new", 10));
  EXPECT_EQ(schema_.count("delta_resource WHERE object_id LIKE 'new%' AND priority = 0"), 10);
  client.start();
  ASSERT_TRUE(eventually([&] { return controller->order().size() == 210; }, 30s));
  const auto order = controller->order();
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(order[i].starts_with("new")) << "work #" << i << " was " << order[i];
  }
  EXPECT_EQ(controller->priority("new0"), delta::Priority::fresh);
  EXPECT_EQ(controller->priority("old0"), delta::Priority::background);
  // Within the background class the oldest due first (invalidated in key order).
  EXPECT_EQ(order[10], "old0");
  client.stop();
}

TEST_F(priority_pgtest, ARetryAfterAFailureIsBackgroundAndAChangeMakesItFreshAgain) {
  auto controller = std::make_shared<OrderController>(0ms, "flaky");
  delta::Client client(delta::testing::make_pool(), config(controller, 2));
  client.start();
  client.inform(Item{"flaky", 1});
  ASSERT_TRUE(eventually([&] {
    return schema_.count("delta_resource WHERE object_id = 'flaky' AND state = 'failed'") == 1;
  }));
  EXPECT_EQ(stored_priority("flaky"), 1);
  ASSERT_TRUE(eventually(
      [&] {
        return schema_.count("delta_resource WHERE object_id = 'flaky' AND state = 'synced'") == 1;
      },
      30s));
  EXPECT_EQ(controller->priority("flaky"), delta::Priority::background);
  client.inform(Item{"flaky", 2});
  ASSERT_TRUE(eventually([&] {
    return schema_.count(
               "delta_resource WHERE object_id = 'flaky' AND state = 'synced' AND "
               "generation = 2") == 1;
  }));
  EXPECT_EQ(stored_priority("flaky"), 0);
  client.stop();
}

TEST_F(priority_pgtest, InformOptsPriorityChoosesTheClassAndABadOneIsRefused) {
  auto controller = std::make_shared<OrderController>();
  delta::Client client(delta::testing::make_pool(), config(controller, 1));
  client.inform_many(items("backfill", 20), {.priority = delta::Priority::background});
  client.inform(Item{"live", 0});
  EXPECT_EQ(schema_.count("delta_resource WHERE object_id LIKE 'backfill%' AND priority = 1"), 20);
  EXPECT_EQ(stored_priority("live"), 0);
  // A forced inform in the fresh class moves an unchanged one forward.
  client.inform(Item{"backfill7", 0}, {.force = true, .priority = delta::Priority::fresh});
  EXPECT_EQ(stored_priority("backfill7"), 0);
  try {
    client.inform(Item{"odd", 0}, {.priority = static_cast<delta::Priority>(7)});
    ADD_FAILURE() << "a priority outside the enum was accepted";
  } catch (const delta::ValidationError& e) {
    EXPECT_EQ(e.field(), "priority") << e.what();
  }
  EXPECT_EQ(schema_.count("delta_resource WHERE object_id = 'odd'"), 0);
  client.start();
  ASSERT_TRUE(eventually([&] { return controller->order().size() == 21; }, 30s));
  const auto order = controller->order();
  EXPECT_TRUE(order[0] == "live" || order[0] == "backfill7") << order[0];
  EXPECT_TRUE(order[1] == "live" || order[1] == "backfill7") << order[1];
  client.stop();
}

// Lists `listed` items; their values come from `values`.
class ListingController : public delta::Controller<Item> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Item>&) override {
    return delta::synced();
  }
  void inform(delta::InformContext&, const delta::InformOptions&,
              delta::InformSink<Item>& out) override {
    for (int i = 0; i < 10; ++i) {
      if (!out.emit(Item{"k" + std::to_string(i), i == 3 ? changed.load() : 0})) return;
    }
  }
  std::atomic<int> changed{0};
};

TEST_F(priority_pgtest, AResyncsUnchangedObjectsAreBackgroundWorkAndItsChangesFresh) {
  auto controller = std::make_shared<ListingController>();
  auto config = delta::testing::maintenance_config(schema_.name());
  config.controllers.add(controller);  // no namespaces: inform-only, nothing is worked
  delta::Client client(delta::testing::make_pool(), config);
  client.start();
  const auto completed = [&](int n) {
    return eventually(
        [&] {
          return schema_.count(
                     "delta_job WHERE kind = 'delta.inform:item' AND state = "
                     "'completed'") == n;
        },
        20s);
  };
  client.schedule_inform({.kind = "item"});
  ASSERT_TRUE(completed(1));
  EXPECT_EQ(schema_.count("delta_resource WHERE priority = 0"), 10);
  mark_synced();
  controller->changed = 42;
  client.schedule_inform({.kind = "item", .process_existing = true});
  ASSERT_TRUE(completed(2));
  EXPECT_EQ(schema_.count("delta_resource WHERE state = 'scheduled'"), 10);
  EXPECT_EQ(stored_priority("k3"), 0) << "a change found by a resync is fresh";
  EXPECT_EQ(schema_.count("delta_resource WHERE priority = 1"), 9);
  client.stop();
}

// The issue's figure: a big backlog of expired resources being re-worked at parallelism
// 10, then 100 new objects informed. Each new one starts long before the backlog drains.
TEST_F(priority_pgtest, NewObjectsStartWhileABigBackgroundBacklogDrains) {
  constexpr int kBacklog = 5000;
  auto controller = std::make_shared<OrderController>(1ms);
  delta::Client client(delta::testing::make_pool(), config(controller, 10));
  client.inform_many(items("old", kBacklog));
  mark_synced();
  schema_.pool().exec(
      schema_.sql("UPDATE {s}.delta_resource SET state = 'expired', priority = 1, run_at = now() "
                  "WHERE kind = 'item'"));
  client.start();
  ASSERT_TRUE(eventually([&] { return controller->order().size() >= 500; }, 30s));
  const auto fresh = items("new", 100);
  const auto informed = Clock::now();
  client.inform_many(fresh);
  ASSERT_TRUE(eventually(
      [&] {
        return std::all_of(fresh.begin(), fresh.end(),
                           [&](const Item& item) { return controller->started(item.key); });
      },
      30s));
  const auto left = schema_.count("delta_resource WHERE state <> 'synced'");
  std::vector<double> waits;
  for (const auto& item : fresh) {
    waits.push_back(
        std::chrono::duration<double, std::milli>(*controller->started(item.key) - informed)
            .count());
  }
  std::sort(waits.begin(), waits.end());
  std::cout << "[ figures  ] 100 new objects behind " << kBacklog
            << " expired: inform to start p50 " << waits[49] << " ms, p99 " << waits[98] << " ms; "
            << left << " of the backlog left\n";
  // Every new one started while most of the backlog was still due: they did not queue
  // behind it (behind it, none would start before the backlog's 4,500 left were worked).
  EXPECT_GE(left, kBacklog / 2);
  client.stop();
}

}  // namespace
