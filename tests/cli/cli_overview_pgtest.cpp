// delta status, delta controllers list, delta namespaces list and delta clients list
// against a live PostgreSQL with a running client: what they print compared with what SQL
// says.
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <delta/migrate.hpp>

#include "cli/cli_fixture.hpp"

namespace {

using delta::testing::contains;
using delta::testing::eventually;
using delta::testing::lines_of;

class CliOverviewTest : public delta::testing::CliAdminTest {
 protected:
  // A started client working namespace "default", once it leads.
  delta::Client& start_leader() {
    auto& client = start(worker_config());
    EXPECT_TRUE(eventually([&] { return client.is_leader(); })) << "the client never leads";
    return client;
  }
  // The row of `rows` (a JSON array) whose `field` is `value`, or null.
  static nlohmann::json find(const nlohmann::json& rows, const std::string& field,
                             const std::string& value) {
    for (const auto& row : rows) {
      if (row.at(field) == value) return row;
    }
    return nullptr;
  }
};

using cli_overview_pgtest = CliOverviewTest;

TEST_F(cli_overview_pgtest, ClientsListShowsTheRunningClient) {
  auto& client = start_leader();
  const auto json = this->json({"clients", "list"});
  ASSERT_EQ(json["rows"].size(), 1U) << json;
  const auto& row = json["rows"][0];
  EXPECT_EQ(row["id"], client.id());
  EXPECT_EQ(row["pid"], ::getpid());
  EXPECT_EQ(row["hostname"],
            column("SELECT hostname FROM {s}.delta_client WHERE id = '" + client.id() + "'").at(0));
  EXPECT_EQ(row["leader"], true);
  EXPECT_TRUE(row["metadata"].is_object()) << row;

  const auto run = delta({"clients", "list"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 2U) << run.out;
  EXPECT_TRUE(std::regex_match(
      lines[0], std::regex("ID +HOST +PID +LEADER  STARTED +HEARTBEAT +RESOURCES  JOBS  SERVES")))
      << run.out;
  EXPECT_EQ(lines[1].find(client.id().substr(0, 20)), 0U) << run.out;
  EXPECT_TRUE(contains(lines[1], "  yes     ")) << run.out;
}

TEST_F(cli_overview_pgtest, StatusHasTheWholePicture) {
  auto& client = start_leader();
  inform("a");
  inform("b", {.namespace_name = "other"});  // never worked: this client works default
  const auto json = this->json({"status"});
  EXPECT_EQ(json["schema"], schema_name());
  EXPECT_EQ(json["schema_version"], delta::latest_schema_version());
  EXPECT_EQ(json["latest_schema_version"], delta::latest_schema_version());
  EXPECT_EQ(json["leader"], client.id());
  ASSERT_EQ(json["clients"].size(), 1U) << json;
  EXPECT_EQ(json["clients"][0]["id"], client.id());
  ASSERT_EQ(json["resources"].size(), 1U) << json;
  EXPECT_EQ(json["resources"][0]["kind"], "thing");
  EXPECT_EQ(json["resources"][0]["total"], scalar("SELECT count(*) FROM {s}.delta_resource"));
  EXPECT_TRUE(json["queues"].is_array()) << json;
  EXPECT_TRUE(json.contains("resource_lag_ms")) << json;
  EXPECT_TRUE(json.contains("job_lag_ms")) << json;

  const auto run = delta({"status"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  const auto lines = lines_of(run.out);
  ASSERT_GE(lines.size(), 8U) << run.out;
  const auto version = std::to_string(delta::latest_schema_version());
  EXPECT_EQ(lines[0],
            "schema        " + schema_name() + " (version " + version + " of " + version + ")")
      << run.out;
  EXPECT_EQ(lines[1], "leader        " + client.id()) << run.out;
  EXPECT_EQ(lines[2], "clients       1") << run.out;
  EXPECT_TRUE(std::regex_match(lines[3], std::regex("resource lag  \\S.*"))) << run.out;
  EXPECT_EQ(lines[6], "KIND   SCHEDULED  PENDING  SYNCED  FAILED  DEGRADED  EXPIRED  DELETED")
      << run.out;
  EXPECT_TRUE(std::regex_match(lines[7], std::regex("thing +\\d+ +\\d+ +\\d+ +0 +0 +0 +0")))
      << run.out;
}

TEST_F(cli_overview_pgtest, ControllersListCountsTheKindsResources) {
  start_leader();
  inform("a");
  inform("b", {.namespace_name = "other"});
  nlohmann::json row;
  ASSERT_TRUE(eventually([&] {
    row = find(json({"controllers", "list"})["rows"], "kind", "thing");
    return row.is_object() && row["clients"] == 1;
  })) << row;
  EXPECT_EQ(row["total"], scalar("SELECT count(*) FROM {s}.delta_resource WHERE kind = 'thing'"));
  EXPECT_EQ(row["inform_interval_ms"], nullptr) << "Thing has no periodic informs";
  EXPECT_TRUE(row["states"].is_object()) << row;
  EXPECT_EQ(row["states"].size(), 7U) << "every state, zero or not: " << row;
  EXPECT_EQ(row["last_inform"], nullptr) << "Thing's informer has never run: " << row;

  const auto run = delta({"controllers", "list"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 2U) << run.out;
  EXPECT_TRUE(std::regex_match(
      lines[0], std::regex("KIND   CLIENTS  PAUSED  INFORM EVERY  LAST INFORM  "
                           "WROTE  NEXT INFORM  RESOURCES  STATES +LIMITS  INFORM ERROR")))
      << run.out;
  EXPECT_TRUE(std::regex_match(lines[1], std::regex("thing        1  -       never         -  .*")))
      << run.out;

  // What a finished run wrote, as a run stores it.
  pool().exec(
      sql("UPDATE {s}.delta_controller SET last_inform_finished_at = now(), "
          "last_inform_emitted = 12, last_inform_inserted = 3, last_inform_changed = 2, "
          "last_inform_unchanged = 6, last_inform_stale = 0, last_inform_skipped_deleted = 1 "
          "WHERE kind = 'thing'"));
  row = find(json({"controllers", "list"})["rows"], "kind", "thing");
  EXPECT_EQ(row["last_inform"], nlohmann::json::parse(R"({"emitted": 12, "inserted": 3,
      "changed": 2, "unchanged": 6, "stale": 0, "skipped_deleted": 1})"))
      << row;
  const auto wrote = delta({"controllers", "list"});
  EXPECT_TRUE(contains(wrote.out, "  12 emitted: 3 new, 2 changed, 6 same, 1 deleted  "))
      << wrote.out;
}

TEST_F(cli_overview_pgtest, ControllersPauseAndResumeAKind) {
  start_leader();
  const auto paused = [&] {
    return scalar(
        "SELECT count(*) FROM {s}.delta_controller "
        "WHERE kind = 'thing' AND paused_at IS NOT NULL");
  };
  ASSERT_TRUE(eventually([&] {
    return find(json({"controllers", "list"})["rows"], "kind", "thing").is_object();
  }));
  auto run = delta({"controllers", "pause", "thing"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "paused kind thing\n");
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(paused(), 1);
  auto row = find(json({"controllers", "list"})["rows"], "kind", "thing");
  EXPECT_EQ(row["paused"], true) << row;
  EXPECT_TRUE(row["paused_at"].is_string()) << row;

  // A paused kind is not worked: a new resource stays scheduled.
  inform("a");
  EXPECT_TRUE(
      delta::testing::consistently([&] { return state("a") == delta::ResourceState::scheduled; },
                                   std::chrono::milliseconds(300)));

  run = delta({"controllers", "resume", "thing"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "resumed kind thing\n");
  EXPECT_EQ(paused(), 0);
  EXPECT_TRUE(eventually(in_state("a", delta::ResourceState::synced)));

  run = delta({"controllers", "pause", "thnig"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_TRUE(contains(run.err, "no kind thnig is known")) << run.all();
}

TEST_F(cli_overview_pgtest, ControllersInformSchedulesAnInformerRun) {
  start_leader();
  ASSERT_TRUE(eventually([&] {
    return find(json({"controllers", "list"})["rows"], "kind", "thing").is_object();
  }));
  const auto run = delta({"controllers", "inform", "thing", "--process-existing"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  std::smatch match;
  ASSERT_TRUE(std::regex_match(run.out, match,
                               std::regex("(scheduled an informer run of thing|an informer run "
                                          "of thing is already waiting) \\(job (\\d+)\\)\n")))
      << run.out;
  const auto job = json({"jobs", "get", match[2].str()});
  EXPECT_EQ(job["queue"], std::string(delta::kInformQueue)) << job;
  EXPECT_EQ(job["args"]["kind"], "thing") << job;
  EXPECT_EQ(job["args"]["process_existing"], true) << job;

  const auto missing = delta({"controllers", "inform", "nothing"});
  EXPECT_EQ(missing.exit_code, 3) << missing.all();
  EXPECT_TRUE(contains(missing.err, "delta: error: ")) << missing.all();
}

TEST_F(cli_overview_pgtest, NamespacesListShowsRetention) {
  start_leader();
  nlohmann::json row;
  ASSERT_TRUE(eventually([&] {
    row = find(json({"namespaces", "list"})["rows"], "name", "default");
    return row.is_object();
  })) << row;
  EXPECT_EQ(row["synced_retention_ms"],
            scalar("SELECT (extract(epoch FROM synced_retention) * 1000)::bigint "
                   "FROM {s}.delta_namespace WHERE name = 'default'"));
  EXPECT_EQ(row["synced_retention_ms"], 24 * 3600 * 1000);
  EXPECT_EQ(row["expiry_ttl_ms"], nullptr);
  EXPECT_EQ(row["total"], 0);

  const auto run = delta({"namespaces", "list"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  const auto lines = lines_of(run.out);
  ASSERT_GE(lines.size(), 2U) << run.out;
  EXPECT_EQ(
      lines[0],
      "NAMESPACE  EXPIRY  KEEP SYNCED  KEEP DELETED  KEEP DEGRADED  RESOURCES  STATES  LIMITS")
      << run.out;
  EXPECT_TRUE(contains(
      run.out,
      "\ndefault    never   1 d          1 d           1 d                    0  -       -\n"))
      << run.out;
}

TEST_F(cli_overview_pgtest, ReadCommandsOfAnUnreachableDatabaseExitWithFour) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"status"}, {"resources", "list"}, {"jobs", "get", "1"}, {"queues", "pause", "q"}}) {
    auto with_url = args;
    with_url.insert(with_url.end(), {"--database-url", "postgresql://127.0.0.1:1/x"});
    const auto run = delta::testing::run_delta(with_url);
    EXPECT_EQ(run.exit_code, 4) << run.all();
    EXPECT_TRUE(contains(run.err, "delta: error: ")) << run.all();
  }
}

}  // namespace
