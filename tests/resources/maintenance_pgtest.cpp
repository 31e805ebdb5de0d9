// The leader's resource maintenance against a live PostgreSQL: the expirer (synced
// resources past their namespace's expiry TTL are worked again) and the cleaner (rows past
// their namespace's retention, per state, are deleted in batches).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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
using delta::testing::eventually;
using delta::testing::ScratchSchema;

DELTA_KEYED_VALUE_OBJECT(Exp, "exp", 8)

class ExpController : public delta::Controller<Exp> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Exp>& r) override {
    std::lock_guard lock(mutex);
    ++worked[r.object.key];
    return delta::synced();
  }
  int times(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = worked.find(key);
    return it == worked.end() ? 0 : it->second;
  }

 private:
  std::mutex mutex;
  std::map<std::string, int> worked;
};

// 5. Synced resources of a namespace with a short expiry become expired and are worked
// again (synced again, with a newer synced_at); another namespace's are left alone.
TEST(maintenance_pgtest, ExpiredResourcesAreWorkedAgain) {
  ScratchSchema schema("mnt", delta::testing::SchemaStart::migrated);
  auto controller = std::make_shared<ExpController>();
  auto config = delta::testing::maintenance_config(schema.name());
  config.controllers.add(controller);
  config.namespaces["default"] = {.max_workers = 4, .resource_expiry = 1s};
  config.namespaces["keep"] = {.max_workers = 4};
  delta::Client client(delta::testing::make_pool(), config);
  client.start();

  std::vector<Exp> expiring, kept;
  for (int i = 0; i < 5; ++i) {
    expiring.push_back({"e" + std::to_string(i), i});
    kept.push_back({"k" + std::to_string(i), i});
  }
  client.inform_many(expiring);
  client.inform_many(kept, {.namespace_name = "keep"});
  ASSERT_TRUE(
      eventually([&] { return schema.count("delta_resource WHERE state = 'synced'") == 10; }, 10s));
  std::map<std::string, delta::Timestamp> first_synced;
  for (const auto& object : expiring) {
    auto row = client.get_resource("exp", object.key);
    ASSERT_TRUE(row.synced_at.has_value());
    first_synced[object.key] = *row.synced_at;
  }
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& object : expiring) {
          if (controller->times(object.key) < 2) return false;
        }
        return true;
      },
      15s))
      << "synced resources past the namespace's expiry were not worked again";
  std::cout << "[ expirer ] resources with a 1 s expiry worked again after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - begin)
                   .count()
            << " ms\n";
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& object : expiring) {
          auto row = client.get_resource("exp", object.key);
          if (row.state != delta::ResourceState::synced || !row.synced_at ||
              *row.synced_at <= first_synced[object.key]) {
            return false;
          }
        }
        return true;
      },
      10s))
      << "re-worked resources must be synced again with a newer synced_at";
  for (const auto& object : kept) {
    EXPECT_EQ(controller->times(object.key), 1)
        << object.key << " of a namespace without expiry was worked again";
    EXPECT_EQ(client.get_resource("exp", object.key).state, delta::ResourceState::synced);
  }
  client.stop();
}

DELTA_KEYED_OBJECT(Row, "row", 1)

class RowController : public delta::Controller<Row> {
 public:
  delta::WorkResult work(delta::WorkContext&, const delta::Resource<Row>&) override {
    ++worked;
    return delta::synced();
  }
  std::atomic<int> worked{0};
};

std::set<std::string> object_ids(const ScratchSchema& schema) {
  std::set<std::string> ids;
  for (auto row : schema.pool().exec("SELECT object_id FROM " + schema.table("delta_resource")))
    ids.insert(row.get<std::string>(0));
  return ids;
}

// 6. The cleaner removes exactly the rows past their namespace's retention for their state:
// deleted, degraded, and synced only where the namespace does not expire resources.
TEST(maintenance_pgtest, CleanerHonoursRetentionPerStateAndNamespace) {
  ScratchSchema schema("mnt", delta::testing::SchemaStart::migrated);
  // Ages in minutes of the rows of every namespace and state.
  const std::vector<int> ages = {30, 90, 150, 210, 660};
  schema.pool().exec(
      "INSERT INTO " + schema.table("delta_resource") +
      " (kind, object_id, namespace, state, object, hash, run_at, updated_at, synced_at) "
      "SELECT 'row', ns || '-' || st || '-' || age, ns, st::" +
      schema.table("resource_state") +
      ", '{}', '\\x00'::bytea, now() + interval '1 day', "
      "now() - age * interval '1 minute', CASE WHEN st = 'synced' THEN now() END "
      "FROM unnest(ARRAY['short', 'long', 'expiring']) ns, "
      "unnest(ARRAY['synced', 'deleted', 'degraded', 'failed']) st, "
      "unnest(ARRAY[30, 90, 150, 210, 660]) age");
  ASSERT_EQ(schema.count("delta_resource"), 60);

  // Retention in minutes per namespace and state; -1: never removed.
  std::map<std::string, std::map<std::string, int>> retention = {
      {"short", {{"synced", 180}, {"deleted", 60}, {"degraded", 120}, {"failed", -1}}},
      {"long", {{"synced", 600}, {"deleted", 600}, {"degraded", 600}, {"failed", -1}}},
      {"expiring", {{"synced", -1}, {"deleted", 60}, {"degraded", 60}, {"failed", -1}}},
  };
  std::set<std::string> expected;
  for (const auto& [ns, states] : retention) {
    for (const auto& [state, minutes] : states) {
      for (int age : ages) {
        if (minutes < 0 || age < minutes)
          expected.insert(ns + "-" + state + "-" + std::to_string(age));
      }
    }
  }

  auto config = delta::testing::maintenance_config(schema.name());
  config.controllers.add(std::make_shared<RowController>());
  config.namespaces["short"] = {
      .max_workers = 1, .synced_retention = 3h, .deleted_retention = 1h, .degraded_retention = 2h};
  config.namespaces["long"] = {.max_workers = 1,
                               .synced_retention = 10h,
                               .deleted_retention = 10h,
                               .degraded_retention = 10h};
  config.namespaces["expiring"] = {
      .max_workers = 1, .resource_expiry = 1h, .deleted_retention = 1h, .degraded_retention = 1h};
  delta::Client client(delta::testing::make_pool(), config);
  client.start();

  const auto want = static_cast<std::int64_t>(expected.size());
  ASSERT_TRUE(eventually([&] { return schema.count("delta_resource") <= want; }, 10s))
      << schema.count("delta_resource") << " rows left, expected " << want;
  std::this_thread::sleep_for(600ms);  // three more cleaner passes must change nothing
  const auto left = object_ids(schema);
  EXPECT_EQ(left, expected);
  for (const auto& id : expected) {
    EXPECT_TRUE(left.contains(id)) << id << " was deleted before its retention passed";
  }
  for (const auto& id : left) {
    EXPECT_TRUE(expected.contains(id)) << id << " is past its retention but still there";
  }
  client.stop();
}

// 7. Throughput: 200,000 deleted rows past retention are all removed (in batches), rows
// within retention stay.
TEST(maintenance_pgtest, CleanerRemovesTwoHundredThousandRows) {
  ScratchSchema schema("mnt", delta::testing::SchemaStart::migrated);
  const std::string resources = schema.table("delta_resource");
  const std::string state_type = schema.table("resource_state");
  auto insert_begin = std::chrono::steady_clock::now();
  schema.pool().exec("INSERT INTO " + resources +
                     " (kind, object_id, namespace, state, object, hash, updated_at) "
                     "SELECT 'row', 'old-' || i, 'default', 'deleted'::" +
                     state_type +
                     ", '{}', '\\x00'::bytea, now() - interval '2 days' + i * interval '1 ms' "
                     "FROM generate_series(1, 200000) i");
  schema.pool().exec("INSERT INTO " + resources +
                     " (kind, object_id, namespace, state, object, hash, updated_at) "
                     "SELECT 'row', 'new-' || i, 'default', 'deleted'::" +
                     state_type +
                     ", '{}', '\\x00'::bytea, now() - interval '10 minutes' "
                     "FROM generate_series(1, 1000) i");
  std::cout << "[ cleaner ] inserted 201000 rows in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - insert_begin)
                   .count()
            << " ms\n";
  ASSERT_EQ(schema.count("delta_resource"), 201000);

  auto config = delta::testing::maintenance_config(schema.name());
  config.controllers.add(std::make_shared<RowController>());
  config.namespaces["default"] = {.max_workers = 1, .deleted_retention = 1h};
  delta::Client client(delta::testing::make_pool(), config);
  const auto begin = std::chrono::steady_clock::now();
  client.start();
  std::optional<std::chrono::steady_clock::time_point> first_gone;
  const bool done = eventually(
      [&] {
        const auto n = schema.count("delta_resource");
        if (n < 201000 && !first_gone) first_gone = std::chrono::steady_clock::now();
        return n == 1000;
      },
      90s, 50ms);
  const auto end = std::chrono::steady_clock::now();
  const auto total = std::chrono::duration_cast<std::chrono::milliseconds>(end - begin);
  const auto cleaning =
      first_gone ? std::chrono::duration_cast<std::chrono::milliseconds>(end - *first_gone) : total;
  std::cout << "[ cleaner ] 200000 rows past retention deleted in " << total.count()
            << " ms from client start (" << cleaning.count()
            << " ms from the first deletion seen); "
            << (total.count() > 0 ? 200000 * 1000 / total.count() : 0) << " rows/s\n";
  ::testing::Test::RecordProperty("cleaner_200k_ms", static_cast<int>(total.count()));
  ASSERT_TRUE(done) << schema.count("delta_resource") << " rows left";
  EXPECT_EQ(schema.count("delta_resource WHERE object_id LIKE 'new-%'"), 1000)
      << "rows within retention were deleted";
  client.stop();
}

// An idle client (a namespace, a controller, nothing to do) polls for work every
// poll_interval; together with the leader's maintenance (rescuer and expirer every 100 ms,
// cleaner every 200 ms) that is a few dozen scans of delta_resource per second, not
// thousands. (Found while timing the tests above: a claimer that wakes itself when it
// gives back unused claim slots turns every idle client into a busy loop of empty claims,
// which slows every other test sharing the database.)
TEST(maintenance_pgtest, IdleClientDoesNotSpinOnEmptyClaims) {
  ScratchSchema schema("mnt", delta::testing::SchemaStart::migrated);
  auto scans = [&] {
    return schema.pool()
        .exec(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
            "WHERE schemaname = $1 AND relname = 'delta_resource'",
            schema.name())
        .one()
        .get<std::int64_t>(0);
  };
  const auto before = scans();
  auto controller = std::make_shared<RowController>();
  std::chrono::milliseconds lived{0};
  {
    auto pool = delta::testing::make_pool();
    auto config = delta::testing::maintenance_config(schema.name());
    config.controllers.add(controller);
    config.namespaces["default"] = {.max_workers = 4};
    delta::Client client(pool, config);
    const auto begin = std::chrono::steady_clock::now();
    client.start();
    std::this_thread::sleep_for(2s);
    client.stop();
    lived = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  begin);
  }  // the pool closes its connections: their statistics reach pg_stat_user_tables
  std::int64_t total = 0;
  eventually(
      [&] {
        const auto now = scans() - before;
        const bool stable = now == total && now > 0;
        total = now;
        return stable;
      },
      5s, 300ms);
  const double per_second =
      1000.0 * static_cast<double>(total) / static_cast<double>(lived.count());
  std::cout << "[ idle ] " << total << " scans of delta_resource in " << lived.count()
            << " ms by one idle client (" << per_second << "/s)\n";
  EXPECT_EQ(controller->worked, 0);
  EXPECT_LT(per_second, 300.0) << "an idle client is busy-looping on the database";
}

}  // namespace
