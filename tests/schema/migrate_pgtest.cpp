// The migrator and the schema its migrations build, against a live PostgreSQL.
//
// Every test works in its own schema (unique_schema()) and drops it at the end, so the
// tests can run in parallel against one database. Suites are named after the executable
// so `ctest -R migrate` selects them.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <latch>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/errors.hpp>
#include <delta/migrate.hpp>
#include <delta/pg.hpp>
#include <delta/time.hpp>

#include "support/pg_test.hpp"

namespace {

using delta::ConfigError;
using delta::DatabaseError;
using delta::DatabaseErrorKind;
using delta::MigrateDirection;
using delta::SchemaError;
using namespace std::chrono_literals;

constexpr const char* kTables[] = {
    "delta_resource", "delta_namespace", "delta_controller", "delta_job",
    "delta_queue",    "delta_leader",    "delta_client",     "delta_periodic_job",
};

// Bits of job_state values in a unique_states mask.
constexpr std::int16_t kAvailable = 1 << 0;
constexpr std::int16_t kScheduled = 1 << 1;
constexpr std::int16_t kRunning = 1 << 2;
constexpr std::int16_t kRetryable = 1 << 3;
constexpr std::int16_t kCompleted = 1 << 4;

std::vector<int> versions_up_to(int latest) {
  std::vector<int> versions;
  for (int version = 1; version <= latest; ++version)
    versions.push_back(version);
  return versions;
}

// Each test has a schema name of its own that the migrator creates (and that is dropped
// at the end).
class MigrateTest : public ::testing::Test {
 protected:
  delta::MigrateResult up(std::optional<int> steps = std::nullopt) {
    return delta::migrate(*pool_, {.schema = schema_, .steps = steps});
  }
  delta::MigrateResult down(std::optional<int> steps = std::nullopt) {
    return delta::migrate(*pool_,
                          {.schema = schema_, .direction = MigrateDirection::down, .steps = steps});
  }

  std::string qualified(const std::string& name) const { return "\"" + schema_ + "\"." + name; }
  bool relation_exists(const std::string& name) {
    return pool_->exec("SELECT to_regclass($1) IS NOT NULL", qualified(name)).one().get<bool>(0);
  }
  bool type_exists(const std::string& name) {
    return pool_->exec("SELECT to_regtype($1) IS NOT NULL", qualified(name)).one().get<bool>(0);
  }
  bool schema_exists() {
    return pool_->exec("SELECT to_regnamespace($1) IS NOT NULL", "\"" + schema_ + "\"")
        .one()
        .get<bool>(0);
  }
  void expect_all_objects(bool exist) {
    for (const char* table : kTables)
      EXPECT_EQ(relation_exists(table), exist) << table;
    EXPECT_EQ(relation_exists("delta_job_unique_idx"), exist);
    EXPECT_EQ(relation_exists("delta_resource_claim_idx"), exist);
    EXPECT_EQ(type_exists("resource_state"), exist);
    EXPECT_EQ(type_exists("job_state"), exist);
  }

  const delta::testing::ScratchSchema scratch_{
      "migrate", delta::testing::SchemaStart::absent, {.max_connections = 4}};
  const std::shared_ptr<delta::pg::Pool> pool_ = scratch_.shared_pool();
  const std::string schema_ = scratch_.name();
};

// The suite is named after the executable, so `ctest -R migrate` finds it.
using migrate_pgtest = MigrateTest;

TEST_F(migrate_pgtest, UpDownUp) {
  const int latest = delta::latest_schema_version();
  ASSERT_GE(latest, 1);

  auto result = up();
  EXPECT_EQ(result.version_before, 0);
  EXPECT_EQ(result.version_after, latest);
  EXPECT_EQ(result.versions, versions_up_to(latest));
  expect_all_objects(true);
  EXPECT_TRUE(relation_exists("delta_migration"));
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), latest);
  EXPECT_NO_THROW(delta::check_schema(*pool_, schema_));

  result = down(latest);
  EXPECT_EQ(result.version_before, latest);
  EXPECT_EQ(result.version_after, 0);
  auto reverted = versions_up_to(latest);
  std::reverse(reverted.begin(), reverted.end());
  EXPECT_EQ(result.versions, reverted);
  expect_all_objects(false);
  EXPECT_FALSE(relation_exists("delta_migration"));
  EXPECT_FALSE(schema_exists()) << "an empty schema is dropped with the last migration";
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0);

  result = up();
  EXPECT_EQ(result.version_before, 0);
  EXPECT_EQ(result.version_after, latest);
  expect_all_objects(true);
  EXPECT_NO_THROW(delta::check_schema(*pool_, schema_));
}

TEST_F(migrate_pgtest, DownRevertsOneStepByDefault) {
  const int latest = delta::latest_schema_version();
  up();
  auto result = down();
  EXPECT_EQ(result.versions, std::vector<int>{latest});
  EXPECT_EQ(result.version_after, latest - 1);
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), latest - 1);
}

TEST_F(migrate_pgtest, DownOnAnUnmigratedDatabaseIsANoOp) {
  auto result = down();
  EXPECT_TRUE(result.versions.empty());
  EXPECT_EQ(result.version_before, 0);
  EXPECT_EQ(result.version_after, 0);
  EXPECT_FALSE(schema_exists()) << "down creates nothing";
}

TEST_F(migrate_pgtest, UpTwiceIsANoOp) {
  const int latest = delta::latest_schema_version();
  up();
  auto second = up();
  EXPECT_TRUE(second.versions.empty());
  EXPECT_EQ(second.version_before, latest);
  EXPECT_EQ(second.version_after, latest);
  EXPECT_EQ(pool_->exec("SELECT count(*) FROM " + qualified("delta_migration"))
                .one()
                .get<std::int64_t>(0),
            latest);
}

TEST_F(migrate_pgtest, UpStepsAppliesAtMostN) {
  auto result = up(1);
  EXPECT_EQ(result.versions, std::vector<int>{1});
  EXPECT_EQ(result.version_after, 1);
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 1);
}

TEST_F(migrate_pgtest, StepsBeyondTheEndStopAtTheEnd) {
  const int latest = delta::latest_schema_version();
  auto result = up(std::numeric_limits<int>::max());
  EXPECT_EQ(result.versions, versions_up_to(latest));
  result = down(std::numeric_limits<int>::max());
  EXPECT_EQ(result.versions.size(), static_cast<std::size_t>(latest));
  EXPECT_EQ(result.version_after, 0);
  EXPECT_FALSE(schema_exists());
}

TEST_F(migrate_pgtest, ConcurrentUpsApplyEachMigrationOnce) {
  const int latest = delta::latest_schema_version();
  auto other_pool = delta::testing::make_pool({.max_connections = 2});
  std::latch start(2);
  std::vector<delta::MigrateResult> results(2);
  std::vector<std::string> failures(2);
  auto run = [&](std::size_t index, delta::pg::Pool& pool) {
    start.arrive_and_wait();
    try {
      results[index] = delta::migrate(pool, {.schema = schema_});
    } catch (const std::exception& e) {
      failures[index] = e.what();
    }
  };
  {
    std::jthread first(run, 0, std::ref(*pool_));
    std::jthread second(run, 1, std::ref(*other_pool));
  }
  EXPECT_EQ(failures[0], "");
  EXPECT_EQ(failures[1], "");
  EXPECT_EQ(results[0].versions.size() + results[1].versions.size(),
            static_cast<std::size_t>(latest));
  EXPECT_TRUE(results[0].versions.empty() || results[1].versions.empty())
      << "one run applies everything; the other waits for the lock and finds nothing to do";
  EXPECT_EQ(results[0].version_after, latest);
  EXPECT_EQ(results[1].version_after, latest);
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), latest);
}

TEST_F(migrate_pgtest, RefusesASchemaNewerThanTheBuild) {
  const int latest = delta::latest_schema_version();
  up();
  pool_->exec("INSERT INTO " + qualified("delta_migration") + " (version, name) VALUES ($1, $2)",
              static_cast<std::int32_t>(latest + 1), "from_the_future");

  const std::string newer = "version " + std::to_string(latest + 1);
  try {
    up();
    FAIL() << "migrate up accepted a newer schema";
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find(newer), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::to_string(latest)), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("upgrade delta"), std::string::npos) << e.what();
  }
  EXPECT_THROW(down(), SchemaError);
  try {
    delta::check_schema(*pool_, schema_);
    FAIL() << "check_schema accepted a newer schema";
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find(newer), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("upgrade delta"), std::string::npos) << e.what();
  }
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), latest + 1);

  auto status = delta::migration_status(*pool_, schema_);
  ASSERT_EQ(status.size(), static_cast<std::size_t>(latest + 1));
  EXPECT_EQ(status.back().version, latest + 1);
  EXPECT_TRUE(status.back().applied);
  EXPECT_EQ(status.back().name, "") << "a version this build does not know has no name";
  expect_all_objects(true);  // nothing was reverted
}

TEST_F(migrate_pgtest, RefusesAHistoryWithAHole) {
  ASSERT_GE(delta::latest_schema_version(), 2);
  up();
  pool_->exec("DELETE FROM " + qualified("delta_migration") + " WHERE version = 1");
  try {
    up();
    FAIL() << "migrate up accepted a history without version 1";
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("inconsistent migration history"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(down(), SchemaError);
  EXPECT_TRUE(relation_exists("delta_job")) << "nothing was reverted";
}

// 0002 drops the job indexes that only added a write per job version; down restores them.
TEST_F(migrate_pgtest, LeanJobIndexesUpAndDown) {
  up(1);
  EXPECT_TRUE(relation_exists("delta_job_kind_idx"));
  EXPECT_TRUE(relation_exists("delta_job_running_timeout_idx"));
  up(1);
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 2);
  EXPECT_FALSE(relation_exists("delta_job_kind_idx"));
  EXPECT_FALSE(relation_exists("delta_job_running_timeout_idx"));
  EXPECT_TRUE(relation_exists("delta_job_running_by_idx")) << "the rescuer's index stays";
  down(1);
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 1);
  EXPECT_TRUE(relation_exists("delta_job_kind_idx"));
  EXPECT_TRUE(relation_exists("delta_job_running_timeout_idx"));
}

TEST_F(migrate_pgtest, NonDefaultSchemaLeavesTheDefaultUntouched) {
  auto default_state = [&] {
    auto result = pool_->exec(
        "SELECT to_regnamespace('delta') IS NOT NULL, "
        "to_regclass('delta.delta_resource') IS NOT NULL");
    auto row = result.one();  // valid while `result` lives
    return std::pair(row.get<bool>(0), row.get<bool>(1));
  };
  const auto default_existed = default_state();
  const int default_version = delta::current_schema_version(*pool_);

  up();
  expect_all_objects(true);
  EXPECT_EQ(
      pool_
          ->exec("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = ANY($2)",
                 schema_, std::vector<std::string>(std::begin(kTables), std::end(kTables)))
          .one()
          .get<std::int64_t>(0),
      static_cast<std::int64_t>(std::size(kTables)));

  EXPECT_EQ(default_state(), default_existed);
  EXPECT_EQ(delta::current_schema_version(*pool_), default_version);
}

TEST_F(migrate_pgtest, InvalidOptionsAreConfigErrorsBeforeTouchingTheDatabase) {
  // A pool whose only connection is taken: any database access would time out instead.
  auto pool = delta::testing::make_pool({.max_connections = 1, .acquire_timeout = 50ms});
  auto held = pool->acquire();

  for (const std::string& bad : std::vector<std::string>{
           "", "Delta", "1abc", "a-b", "a b", "pg_delta", "x\"; DROP", std::string(64, 'a')}) {
    EXPECT_THROW(delta::migrate(*pool, {.schema = bad}), ConfigError) << bad;
    EXPECT_THROW(delta::migration_status(*pool, bad), ConfigError) << bad;
    EXPECT_THROW(delta::current_schema_version(*pool, bad), ConfigError) << bad;
    EXPECT_THROW(delta::check_schema(*pool, bad), ConfigError) << bad;
  }
  EXPECT_THROW(delta::migrate(*pool, {.schema = schema_, .steps = 0}), ConfigError);
  EXPECT_THROW(
      delta::migrate(*pool, {.schema = schema_, .direction = MigrateDirection::down, .steps = -1}),
      ConfigError);

  try {
    delta::migrate(*pool, {.schema = "Bad", .steps = 0});
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.problems().size(), 2u) << "every bad option is reported at once: " << e.what();
  }

  held.release();
  const std::string longest = schema_ + std::string(63 - schema_.size(), 'x');
  EXPECT_EQ(delta::current_schema_version(*pool, longest), 0) << "63 characters are allowed";
}

TEST_F(migrate_pgtest, CheckSchemaOnAnUnmigratedDatabase) {
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0);
  try {
    delta::check_schema(*pool_, schema_);
    FAIL() << "check_schema accepted an unmigrated database";
  } catch (const SchemaError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("is at version 0"), std::string::npos) << message;
    EXPECT_NE(message.find("delta migrate up --schema " + schema_), std::string::npos) << message;
  }

  // The schema exists but holds no migration table: still version 0.
  pool_->exec("CREATE SCHEMA \"" + schema_ + "\"");
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0);
  EXPECT_THROW(delta::check_schema(*pool_, schema_), SchemaError);
}

TEST_F(migrate_pgtest, MigrationStatusListsPendingThenApplied) {
  const int latest = delta::latest_schema_version();
  auto before = delta::migration_status(*pool_, schema_);
  ASSERT_EQ(before.size(), static_cast<std::size_t>(latest));
  for (std::size_t index = 0; index < before.size(); ++index) {
    EXPECT_EQ(before[index].version, static_cast<int>(index) + 1);
    EXPECT_FALSE(before[index].name.empty());
    EXPECT_FALSE(before[index].applied);
    EXPECT_FALSE(before[index].applied_at.has_value());
  }
  EXPECT_EQ(before.front().name, "initial");

  const auto started = delta::now();
  up();
  auto after = delta::migration_status(*pool_, schema_);
  ASSERT_EQ(after.size(), static_cast<std::size_t>(latest));
  for (const auto& info : after) {
    EXPECT_TRUE(info.applied) << info.version;
    ASSERT_TRUE(info.applied_at.has_value()) << info.version;
    EXPECT_GE(*info.applied_at, started - 1min);
    EXPECT_LE(*info.applied_at, delta::now() + 1min);
  }
}

TEST_F(migrate_pgtest, DownKeepsASchemaHoldingOtherObjects) {
  up();
  pool_->exec("CREATE TABLE " + qualified("user_table") + " (id int)");
  down(delta::latest_schema_version());
  expect_all_objects(false);
  EXPECT_FALSE(relation_exists("delta_migration"));
  EXPECT_TRUE(schema_exists());
  EXPECT_TRUE(relation_exists("user_table"));
}

TEST_F(migrate_pgtest, AFailedMigrationRollsBackTheWholeRun) {
  // A table in the way makes migration 1 fail half-way.
  pool_->exec("CREATE SCHEMA \"" + schema_ + "\"");
  pool_->exec("CREATE TABLE " + qualified("delta_queue") + " (id int)");
  try {
    up();
    FAIL() << "the migration succeeded over an existing table";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), "42P07") << e.what();
    EXPECT_NE(std::string(e.what()).find("migration 1 (initial) up failed"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(relation_exists("delta_resource"));
  EXPECT_FALSE(relation_exists("delta_migration"));
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0);
}

TEST_F(migrate_pgtest, UniqueJobIndexHonoursTheStateBitmask) {
  up();
  const std::string insert =
      "INSERT INTO " + qualified("delta_job") +
      " (kind, unique_key, unique_states, state, finalized_at) VALUES ('k', $1::bytea, $2, $3, "
      "CASE WHEN $4 THEN now() END)";
  auto insert_job = [&](const char* key, std::optional<std::int16_t> mask,
                        const std::string& state) {
    const bool final = state == "completed" || state == "cancelled" || state == "discarded";
    pool_->exec(insert, key, mask, state, final);
  };
  auto expect_duplicate = [&](const char* key, std::int16_t mask, const std::string& state) {
    try {
      insert_job(key, mask, state);
      ADD_FAILURE() << "duplicate accepted: " << key << " " << state;
    } catch (const DatabaseError& e) {
      EXPECT_EQ(e.kind(), DatabaseErrorKind::unique_violation) << e.what();
      EXPECT_EQ(e.constraint(), "delta_job_unique_idx");
    }
  };
  const std::int16_t unfinished = kAvailable | kScheduled | kRunning | kRetryable;

  insert_job("\\x01", unfinished, "available");
  expect_duplicate("\\x01", unfinished, "available");
  expect_duplicate("\\x01", unfinished, "retryable");  // another state inside the mask
  insert_job("\\x01", unfinished, "completed");        // outside the mask: accepted
  insert_job("\\x01", unfinished, "completed");
  insert_job("\\x01", std::nullopt, "available");  // no unique_states: not unique
  insert_job("\\x02", unfinished, "available");    // another key

  // Once the first job leaves the mask's states, the key is free again.
  pool_->exec("UPDATE " + qualified("delta_job") +
              " SET state = 'cancelled', finalized_at = now() WHERE unique_key = '\\x01' AND "
              "state = 'available' AND unique_states IS NOT NULL");
  insert_job("\\x01", unfinished, "scheduled");

  // A mask that covers completed makes a completed job block new ones.
  insert_job("\\x03", unfinished | kCompleted, "completed");
  expect_duplicate("\\x03", unfinished | kCompleted, "available");

  // The index can be named in ON CONFLICT, as unique inserts do.
  auto skipped = pool_->exec(
      "INSERT INTO " + qualified("delta_job") +
          " (kind, unique_key, unique_states) VALUES ('k', '\\x02', $1) ON CONFLICT (unique_key) "
          "WHERE unique_key IS NOT NULL AND unique_states IS NOT NULL AND " +
          qualified("job_state_in_bitmask") + "(unique_states, state) DO NOTHING RETURNING id",
      unfinished);
  EXPECT_TRUE(skipped.empty());
}

TEST_F(migrate_pgtest, ChecksAreNamed) {
  up();
  auto violated = [&](const std::string& sql) -> std::string {
    try {
      pool_->exec(sql);
    } catch (const DatabaseError& e) {
      EXPECT_EQ(e.kind(), DatabaseErrorKind::constraint) << e.what();
      return e.constraint();
    }
    return "(accepted)";
  };
  EXPECT_EQ(violated("INSERT INTO " + qualified("delta_job") +
                     " (kind, state) VALUES ('k', 'completed')"),
            "delta_job_finalized_at_iff_final");
  EXPECT_EQ(violated("INSERT INTO " + qualified("delta_job") +
                     " (kind, finalized_at) VALUES ('k', now())"),
            "delta_job_finalized_at_iff_final");
  EXPECT_EQ(violated("INSERT INTO " + qualified("delta_job") + " (kind, priority) VALUES ('k', 5)"),
            "delta_job_priority_range");
  EXPECT_EQ(
      violated("INSERT INTO " + qualified("delta_job") + " (kind, metadata) VALUES ('k', '[]')"),
      "delta_job_metadata_is_object");
  EXPECT_EQ(violated("INSERT INTO " + qualified("delta_resource") +
                     " (kind, object_id, object, hash) VALUES ('user', '', '{}', '\\x00')"),
            "delta_resource_object_id_length");
  EXPECT_EQ(violated("INSERT INTO " + qualified("delta_resource") +
                     " (kind, object_id, object, hash, max_attempts) "
                     "VALUES ('user', 'a', '{}', '\\x00', 0)"),
            "delta_resource_max_attempts_positive");
  EXPECT_EQ(violated("INSERT INTO " + qualified("delta_namespace") + " (name) VALUES ('Bad')"),
            "delta_namespace_name_format");
  EXPECT_EQ(violated("INSERT INTO " + qualified("delta_controller") + " (kind) VALUES ('a--b')"),
            "delta_controller_kind_format");
  EXPECT_EQ(violated("INSERT INTO " + qualified("delta_controller") + " (kind) VALUES ('" +
                     std::string(65, 'a') + "')"),
            "delta_controller_kind_length");

  // Defaults a resource row relies on.
  auto inserted = pool_->exec("INSERT INTO " + qualified("delta_resource") +
                              " (kind, object_id, object, hash) VALUES ('user', 'a', '{}', "
                              "'\\x00') RETURNING state::text, namespace, generation, attempt, "
                              "max_attempts, metadata, cardinality(tags), cardinality(errors)");
  auto row = inserted.one();  // valid while `inserted` lives
  EXPECT_EQ(row.get<std::string>(0), "scheduled");
  EXPECT_EQ(row.get<std::string>(1), "default");
  EXPECT_EQ(row.get<std::int64_t>(2), 1);
  EXPECT_EQ(row.get<std::int16_t>(3), 0);
  EXPECT_EQ(row.get<std::int16_t>(4), 10);
  EXPECT_EQ(row.get<nlohmann::json>(5), nlohmann::json::object());
  EXPECT_EQ(row.get<std::int32_t>(6), 0);
  EXPECT_EQ(row.get<std::int32_t>(7), 0);
}

}  // namespace
