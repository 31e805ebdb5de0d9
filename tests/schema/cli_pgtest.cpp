// The `delta` command (built as DELTA_CLI_PATH): its output and exit codes against a
// live PostgreSQL. Each test uses its own schema. Suites are named after the executable
// so `ctest -R cli` selects them.
#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <delta/migrate.hpp>
#include <delta/pg.hpp>
#include <delta/version.hpp>

#include "support/pg_test.hpp"

#ifndef DELTA_CLI_PATH
#error "DELTA_CLI_PATH must name the delta binary (see tests/CMakeLists.txt)"
#endif

namespace {

struct CliRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

std::string shell_quote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted.push_back(c);
    }
  }
  quoted.push_back('\'');
  return quoted;
}

// Runs the delta binary with `args`; `env` is prepended as NAME=value assignments.
CliRun run_delta(const std::vector<std::string>& args, const std::string& env = {}) {
  std::string command = env.empty() ? std::string() : "env " + env + " ";
  command += shell_quote(DELTA_CLI_PATH);
  for (const auto& arg : args)
    command += " " + shell_quote(arg);
  command += " 2>&1";
  CliRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer{};
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    run.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

using delta::testing::contains;

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
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "pending")) << run.output;
  EXPECT_TRUE(contains(run.output, "initial")) << run.output;
  EXPECT_TRUE(contains(run.output, "schema " + schema_ + ": version 0 of " +
                                       std::to_string(latest) + " (" + std::to_string(latest) +
                                       " pending)"))
      << run.output;
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0) << "status changes nothing";
}

TEST_F(cli_pgtest, UpStatusDown) {
  const int latest = delta::latest_schema_version();
  auto run = run_in_schema({"migrate", "up"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), latest);

  run = run_in_schema({"migrate", "up"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "nothing to apply")) << run.output;

  run = run_in_schema({"migrate", "status"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "applied")) << run.output;
  EXPECT_FALSE(contains(run.output, "pending  ")) << run.output;
  EXPECT_TRUE(contains(run.output, "(0 pending)")) << run.output;

  run = run_in_schema({"migrate", "down", "--steps", std::to_string(latest)});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0);
}

TEST_F(cli_pgtest, GlobalOptionsMayPrecedeTheSubcommand) {
  auto run = run_delta({"--schema", schema_, "migrate", "up", "--steps", "1"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
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
       }) {
    auto run = run_delta(args);
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_TRUE(contains(run.output, "delta: error: ")) << run.output;
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
       }) {
    auto run = run_delta(args);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_TRUE(contains(run.output, "Usage: delta")) << run.output;
  }
  auto run = run_delta({"--version"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, delta::kVersion)) << run.output;
}

TEST_F(cli_pgtest, ASchemaNewerThanTheBuildExitsWithThree) {
  const int latest = delta::latest_schema_version();
  delta::migrate(*pool_, {.schema = schema_});
  pool_->exec("INSERT INTO \"" + schema_ + "\".delta_migration (version, name) VALUES ($1, $2)",
              static_cast<std::int32_t>(latest + 1), "from_the_future");

  for (const auto& command : std::vector<std::vector<std::string>>{
           {"migrate", "up"}, {"migrate", "down"}, {"migrate", "status"}}) {
    auto run = run_in_schema(command);
    EXPECT_EQ(run.exit_code, 3) << run.output;
    EXPECT_TRUE(contains(run.output, "delta: error: ")) << run.output;
    EXPECT_TRUE(contains(run.output, "upgrade delta")) << run.output;
  }
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), latest + 1);
}

TEST_F(cli_pgtest, AnUnreachableDatabaseExitsWithFour) {
  auto run = run_delta(
      {"--database-url", "postgresql://127.0.0.1:1/x", "migrate", "status", "--schema", schema_});
  EXPECT_EQ(run.exit_code, 4) << run.output;
  EXPECT_TRUE(contains(run.output, "delta: error: ")) << run.output;

  // DATABASE_URL is read when --database-url is absent.
  run =
      run_delta({"migrate", "up", "--schema", schema_}, "DATABASE_URL=postgresql://127.0.0.1:1/x");
  EXPECT_EQ(run.exit_code, 4) << run.output;
  EXPECT_EQ(delta::current_schema_version(*pool_, schema_), 0);
}

}  // namespace
