// The `delta` command's migrations: its output and exit codes against a live PostgreSQL. Each test
// uses its own schema. Suites are named after the executable so `ctest -R cli` selects them.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/migrate.hpp>
#include <delta/pg.hpp>
#include <delta/version.hpp>

#include "cli/cli_run.hpp"
#include "support/pg_test.hpp"

namespace {

using delta::testing::CliRun;
using delta::testing::contains;
using delta::testing::run_delta;

// Each test has a schema name of its own that the command creates (and that is dropped
// at the end).
class CliTest : public ::testing::Test {
 protected:
  CliRun run_in_schema(std::vector<std::string> args) {
    args.push_back("--schema");
    args.push_back(schema_);
    return run_delta(args);
  }

  const delta::testing::ScratchSchema scratch_{
      "cli", delta::testing::SchemaStart::absent, {.max_connections = 2}};
  const std::shared_ptr<delta::pg::Pool> pool_ = scratch_.shared_pool();
  const std::string schema_ = scratch_.name();
};

// The suite is named after the executable, so `ctest -R cli` finds it.
using cli_pgtest = CliTest;

TEST_F(cli_pgtest, StatusOnAFreshSchemaListsPendingMigrations) {
  const int latest = delta::latest_schema_version();
  auto run = run_in_schema({"migrate", "status"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_TRUE(contains(run.all(), "pending")) << run.all();
  EXPECT_TRUE(contains(run.all(), "initial")) << run.all();
  EXPECT_TRUE(contains(run.all(), "schema " + schema_ + ": version 0 of " + std::to_string(latest) +
                                      " (" + std::to_string(latest) + " pending)"))
      << run.all();
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0) << "status changes nothing";
}

TEST_F(cli_pgtest, UpStatusDown) {
  const int latest = delta::latest_schema_version();
  auto run = run_in_schema({"migrate", "up"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), latest);

  run = run_in_schema({"migrate", "up"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_TRUE(contains(run.all(), "nothing to apply")) << run.all();

  run = run_in_schema({"migrate", "status"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_TRUE(contains(run.all(), "applied")) << run.all();
  EXPECT_FALSE(contains(run.all(), "pending  ")) << run.all();
  EXPECT_TRUE(contains(run.all(), "(0 pending)")) << run.all();

  run = run_in_schema({"migrate", "down", "--steps", std::to_string(latest)});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0);
}

TEST_F(cli_pgtest, StatusAsJson) {
  const int latest = delta::latest_schema_version();
  ASSERT_GE(latest, 2);
  delta::migrate(*pool_, {.schema = schema_, .steps = 1});
  auto run = run_in_schema({"migrate", "status", "--output", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.all();
  const auto json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["schema"], schema_);
  EXPECT_EQ(json["version"], 1);
  EXPECT_EQ(json["latest_version"], latest);
  EXPECT_EQ(json["pending"], latest - 1);
  ASSERT_EQ(json["migrations"].size(), static_cast<std::size_t>(latest));
  EXPECT_EQ(json["migrations"][0]["version"], 1);
  EXPECT_EQ(json["migrations"][0]["name"], "initial");
  EXPECT_EQ(json["migrations"][0]["applied"], true);
  EXPECT_TRUE(json["migrations"][0]["applied_at"].is_string()) << json.dump();
  EXPECT_EQ(json["migrations"][1]["applied"], false);
  EXPECT_TRUE(json["migrations"][1]["applied_at"].is_null()) << json.dump();
}

TEST_F(cli_pgtest, GlobalOptionsMayPrecedeTheSubcommand) {
  auto run = run_delta({"--schema", schema_, "migrate", "up", "--steps", "1"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 1);
}

TEST_F(cli_pgtest, UsageErrorsExitWithTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"migrate", "up", "--bogus"},
           {"migrate", "up", "--steps", "0"},
           {"migrate", "down", "--steps", "many"},
           {"migrate", "sideways"},
           {"migrate"},
           {},
           {"--schema", "Not-Valid", "migrate", "status"},
           {"migrate", "status", "--output", "yaml"},
       }) {
    auto run = run_delta(args);
    EXPECT_EQ(run.exit_code, 2) << run.all();
    EXPECT_TRUE(contains(run.all(), "delta: error: ")) << run.all();
  }
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0);
}

TEST_F(cli_pgtest, HelpAndVersionExitWithZero) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--help"},
           {"migrate", "--help"},
           {"migrate", "up", "--help"},
           {"migrate", "down", "--help"},
           {"migrate", "status", "--help"},
           {"status", "--help"},
           {"resources", "--help"},
           {"resources", "list", "--help"},
           {"resources", "get", "--help"},
           {"resources", "count", "--help"},
           {"resources", "retry", "--help"},
           {"resources", "invalidate", "--help"},
           {"resources", "delete", "--help"},
           {"resources", "schedule-now", "--help"},
           {"controllers", "list", "--help"},
           {"controllers", "inform", "--help"},
           {"controllers", "pause", "--help"},
           {"controllers", "resume", "--help"},
           {"namespaces", "list", "--help"},
           {"jobs", "list", "--help"},
           {"jobs", "get", "--help"},
           {"jobs", "retry", "--help"},
           {"jobs", "cancel", "--help"},
           {"jobs", "delete", "--help"},
           {"queues", "list", "--help"},
           {"queues", "pause", "--help"},
           {"queues", "resume", "--help"},
           {"clients", "list", "--help"},
       }) {
    auto run = run_delta(args);
    EXPECT_EQ(run.exit_code, 0) << run.all();
    EXPECT_TRUE(contains(run.all(), "Usage: delta")) << run.all();
  }
  const auto help = run_delta({"--help"});
  EXPECT_TRUE(contains(help.out, "3 not found")) << help.out;
  EXPECT_TRUE(contains(help.out, "5 schema error")) << help.out;
  auto run = run_delta({"--version"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_TRUE(contains(run.all(), delta::kVersion)) << run.all();
}

TEST_F(cli_pgtest, ASchemaNewerThanTheBuildExitsWithFive) {
  const int latest = delta::latest_schema_version();
  delta::migrate(*pool_, {.schema = schema_});
  pool_->exec("INSERT INTO \"" + schema_ + "\".delta_migration (version, name) VALUES ($1, $2)",
              static_cast<std::int32_t>(latest + 1), "from_the_future");

  for (const auto& command : std::vector<std::vector<std::string>>{
           {"migrate", "up"}, {"migrate", "down"}, {"migrate", "status"}}) {
    auto run = run_in_schema(command);
    EXPECT_EQ(run.exit_code, 5) << run.all();
    EXPECT_TRUE(contains(run.err, "delta: error: ")) << run.all();
    EXPECT_TRUE(contains(run.all(), "upgrade delta")) << run.all();
  }
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), latest + 1);
}

TEST_F(cli_pgtest, AnUnreachableDatabaseExitsWithFour) {
  auto run = run_delta(
      {"--database-url", "postgresql://127.0.0.1:1/x", "migrate", "status", "--schema", schema_});
  EXPECT_EQ(run.exit_code, 4) << run.all();
  EXPECT_TRUE(contains(run.all(), "delta: error: ")) << run.all();

  // DATABASE_URL is read when --database-url is absent.
  run = run_delta({"migrate", "up", "--schema", schema_},
                  {"DATABASE_URL=postgresql://127.0.0.1:1/x"});
  EXPECT_EQ(run.exit_code, 4) << run.all();
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0);
}

}  // namespace
