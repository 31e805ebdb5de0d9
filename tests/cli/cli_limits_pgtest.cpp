// delta controllers|namespaces|queues limit against a live PostgreSQL: what they write is
// what the database holds, what they print is what is in force, bad values are refused
// before anything is written. (That running clients obey an override: flow_pgtest.)
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.hpp"

namespace {

using delta::testing::contains;
using delta::testing::eventually;

using cli_limits_pgtest = delta::testing::CliAdminTest;

TEST_F(cli_limits_pgtest, ControllersLimitOverridesShowsAndClears) {
  start(worker_config());
  auto run = delta({"controllers", "limit", "thing"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "kind thing: none (the defaults)\n");

  run = delta({"controllers", "limit", "thing", "--rate", "50/s", "--concurrency", "20"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_TRUE(contains(run.out, "kind thing: 50/1s, 20 at once (overridden at ")) << run.out;
  EXPECT_TRUE(contains(run.out, "defaults: none)")) << run.out;
  EXPECT_EQ(scalar("SELECT max_concurrency FROM {s}.delta_controller WHERE kind = 'thing'"), 20);
  EXPECT_EQ(scalar("SELECT rate_count FROM {s}.delta_controller WHERE kind = 'thing'"), 50);
  EXPECT_EQ(scalar("SELECT (extract(epoch FROM rate_per) * 1000)::bigint FROM "
                   "{s}.delta_controller WHERE kind = 'thing'"),
            1000);

  // What is not given stays as it is in force; none lifts one limit.
  run = delta({"controllers", "limit", "thing", "--rate", "none", "--output", "json"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  const auto json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["kind"], "thing");
  EXPECT_EQ(json["in_force"]["max_concurrency"], 20) << json;
  EXPECT_TRUE(json["in_force"]["rate"].is_null()) << json;
  EXPECT_TRUE(json["overridden_at"].is_string()) << json;
  const auto listed = nlohmann::json::parse(
      delta({"controllers", "list", "--output", "json"}).out)["rows"][0]["limits"];
  EXPECT_EQ(listed["in_force"]["max_concurrency"], 20) << listed;
  // The table's LIMITS column shows what is in force, marked as an operator's.
  run = delta({"controllers", "list"});
  EXPECT_TRUE(contains(run.out, "  20 at once (override)  ")) << run.out;

  run = delta({"controllers", "limit", "thing", "--clear"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "kind thing: none (the defaults)\n");
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_controller WHERE kind = 'thing' AND "
                   "limits_overridden_at IS NULL AND max_concurrency IS NULL"),
            1);
}

TEST_F(cli_limits_pgtest, BadValuesAreRefusedBeforeAnythingIsWritten) {
  start(worker_config());
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--rate", "0/s"},
                                               {"--rate", "50"},
                                               {"--rate", "5/0ms"},
                                               {"--rate", "5/2d"},
                                               {"--concurrency", "0"},
                                               {"--concurrency", "-3"}}) {
    std::vector<std::string> command{"controllers", "limit", "thing"};
    command.insert(command.end(), args.begin(), args.end());
    const auto run = delta(command);
    EXPECT_EQ(run.exit_code, 2) << args[0] << " " << args[1] << ": " << run.all();
    EXPECT_TRUE(contains(run.err, args[0] == "--rate" ? "rate" : "concurrency")) << run.all();
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_controller WHERE limits_overridden_at IS "
                   "NOT NULL"),
            0);
  const auto unknown = delta({"controllers", "limit", "nosuch", "--concurrency", "3"});
  EXPECT_EQ(unknown.exit_code, 3) << unknown.all();
}

TEST_F(cli_limits_pgtest, NamespacesAndQueuesLimit) {
  start(worker_config());
  auto run = delta({"namespaces", "limit", "default", "--concurrency", "7"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_TRUE(contains(run.out, "namespace default: 7 at once (overridden")) << run.out;
  EXPECT_EQ(scalar("SELECT max_concurrency FROM {s}.delta_namespace WHERE name = 'default'"), 7);

  // A queue is registered by its first override.
  run = delta({"queues", "limit", "mail", "--rate", "600/1m"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_TRUE(contains(run.out, "queue mail: 600/1m (overridden")) << run.out;
  EXPECT_EQ(scalar("SELECT rate_count FROM {s}.delta_queue WHERE name = 'mail'"), 600);
  run = delta({"queues", "limit", "mail", "--clear"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "queue mail: none (the defaults)\n");
}

}  // namespace
