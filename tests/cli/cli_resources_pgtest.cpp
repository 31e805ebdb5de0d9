// delta resources list | get | count | retry | invalidate | delete | schedule-now against a
// live PostgreSQL: what they print compared with what SQL says, and their exit codes.
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/migrate.hpp>

#include "cli/cli_fixture.hpp"

namespace {

using delta::testing::contains;
using delta::testing::field_values;
using delta::testing::lines_of;

const std::regex kRfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");

class CliResourcesTest : public delta::testing::CliAdminTest {
 protected:
  // Resources a..e of kind thing: a, b, c in namespace default (b tagged red, c tagged red
  // and blue), d and e in namespace other; b degraded with one error, a synced.
  void make_resources() {
    inform("a");
    inform("b", {.tags = {"red"}});
    inform("c", {.tags = {"red", "blue"}});
    inform("d", {.namespace_name = "other"});
    inform("e", {.namespace_name = "other"});
    set("a", "state = 'synced', synced_at = now()");
    set("b",
        "state = 'degraded', attempt = 10, attempted_at = now(), "
        "errors = ARRAY[jsonb_build_object('attempt', 10, 'at', now(), 'error', "
        "'boom 10', 'type', 'retry')]");
  }
  // Every resource's run_at and updated_at kLongAgo, so that tables print them alike.
  void age_resources() {
    pool().exec(sql(
        fmt::format("UPDATE {{s}}.delta_resource SET run_at = {0}, updated_at = {0}", kLongAgo)));
  }
  std::string state_of(const std::string& id) {
    return column("SELECT state::text FROM {s}.delta_resource WHERE object_id = '" + id + "'")
        .at(0);
  }
};

using cli_resources_pgtest = CliResourcesTest;

TEST_F(cli_resources_pgtest, ListPrintsEveryResourceAsJson) {
  make_resources();
  const auto json = this->json({"resources", "list"});
  ASSERT_TRUE(json.is_object()) << json;
  EXPECT_TRUE(json["next_cursor"].is_null()) << json;
  const auto& rows = json["rows"];
  ASSERT_EQ(rows.size(), 5U) << json;
  EXPECT_EQ(field_values(rows, "object_id"), (std::multiset<std::string>{"a", "b", "c", "d", "e"}));

  const auto sql_ids = column("SELECT id::text FROM {s}.delta_resource");
  EXPECT_EQ(field_values(rows, "id"), std::multiset<std::string>(sql_ids.begin(), sql_ids.end()));
  for (const auto& row : rows) {
    EXPECT_EQ(row["kind"], "thing");
    EXPECT_EQ(row["state"], state_of(row["object_id"]));
    EXPECT_TRUE(std::regex_match(row["run_at"].get<std::string>(), kRfc3339)) << row;
    EXPECT_TRUE(std::regex_match(row["created_at"].get<std::string>(), kRfc3339)) << row;
    EXPECT_FALSE(row.contains("object")) << "a listing leaves the object out: " << row;
    if (row["object_id"] == "b") {
      EXPECT_EQ(row["attempt"], 10);
      EXPECT_EQ(row["max_attempts"], 10);
      EXPECT_EQ(row["last_error"], "boom 10");
      EXPECT_EQ(row["tags"], nlohmann::json::array({"red"}));
      EXPECT_TRUE(std::regex_match(row["attempted_at"].get<std::string>(), kRfc3339)) << row;
    }
    if (row["object_id"] == "c") {
      EXPECT_TRUE(row["synced_at"].is_null()) << row;
      EXPECT_TRUE(row["last_error"].is_null()) << row;
      EXPECT_TRUE(row["lease_owner"].is_null()) << row;
    }
  }
}

TEST_F(cli_resources_pgtest, ListFilters) {
  make_resources();
  const auto ids = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"resources", "list"});
    return field_values(json(args)["rows"], "object_id");
  };
  using Ids = std::multiset<std::string>;
  EXPECT_EQ(ids({"--state", "degraded"}), (Ids{"b"}));
  EXPECT_EQ(ids({"--state", "degraded,synced"}), (Ids{"a", "b"}));
  EXPECT_EQ(ids({"--state", "degraded", "--state", "synced"}), (Ids{"a", "b"}));
  EXPECT_EQ(ids({"--namespace", "other"}), (Ids{"d", "e"}));
  EXPECT_EQ(ids({"--tag", "red"}), (Ids{"b", "c"}));
  EXPECT_EQ(ids({"--tag", "blue,nothing"}), (Ids{"c"}));
  EXPECT_EQ(ids({"--all-tags", "red,blue"}), (Ids{"c"}));
  EXPECT_EQ(ids({"--id-prefix", "d"}), (Ids{"d"}));
  EXPECT_EQ(ids({"--kind", "thing", "--namespace", "default", "--state", "scheduled"}), (Ids{"c"}));
  EXPECT_EQ(ids({"--kind", "nothing"}), Ids{});
}

TEST_F(cli_resources_pgtest, ListPagesWithTheCursor) {
  make_resources();
  std::multiset<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    std::vector<std::string> args{"resources", "list", "--limit", "2"};
    if (!cursor.empty()) {
      args.emplace_back("--cursor");
      args.push_back(cursor);
    }
    const auto page = json(args);
    ASSERT_LE(page["rows"].size(), 2U) << page;
    for (const auto& id : field_values(page["rows"], "object_id"))
      seen.insert(id);
    cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
    ASSERT_LT(++pages, 10) << "the pages never end";
  } while (!cursor.empty());
  EXPECT_EQ(seen, (std::multiset<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_GE(pages, 3);

  // The table says how to get the next page on a line of its own.
  const auto run = delta({"resources", "list", "--limit", "2"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 5U) << run.out;  // header, 2 rows, blank, next page
  EXPECT_EQ(lines[3], "");
  EXPECT_TRUE(std::regex_match(lines[4], std::regex("next page: --cursor \\S+"))) << run.out;
}

TEST_F(cli_resources_pgtest, ListTableLayout) {
  inform("a");
  inform("bb", {.namespace_name = "other"});
  set("bb",
      "state = 'degraded', attempt = 10, "
      "errors = ARRAY[jsonb_build_object('attempt', 10, 'at', now(), 'error', "
      "'connection refused\nretry later', 'type', 'retry')]",
      "thing");
  age_resources();
  const auto run = delta({"resources", "list", "--order", "oldest"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out,
            "KIND   ID  NAMESPACE  STATE      ATTEMPT  RUN AT   UPDATED  LAST ERROR\n"
            "thing  a   default    scheduled     0/10  3 d ago  3 d ago  -\n"
            "thing  bb  other      degraded     10/10  3 d ago  3 d ago  connection refused "
            "retry later\n");
  EXPECT_EQ(run.err, "");
}

TEST_F(cli_resources_pgtest, GetPrintsEverything) {
  make_resources();
  set("b", "lease_owner = 'worker-1', lease_expires_at = now() + interval '1 minute'");
  const auto json = this->json({"resources", "get", "thing", "b"});
  EXPECT_EQ(json["kind"], "thing");
  EXPECT_EQ(json["object_id"], "b");
  EXPECT_EQ(json["id"], scalar("SELECT id FROM {s}.delta_resource WHERE object_id = 'b'"));
  EXPECT_EQ(json["namespace"], "default");
  EXPECT_EQ(json["state"], "degraded");
  EXPECT_EQ(json["generation"], 1);
  EXPECT_EQ(json["attempt"], 10);
  EXPECT_EQ(json["max_attempts"], 10);
  EXPECT_EQ(json["lease_owner"], "worker-1");
  EXPECT_TRUE(std::regex_match(json["lease_expires_at"].get<std::string>(), kRfc3339)) << json;
  EXPECT_EQ(json["object"], (nlohmann::json{{"key", "b"}, {"action", "sync"}, {"version", 0}}));
  EXPECT_EQ(json["tags"], nlohmann::json::array({"red"}));
  EXPECT_EQ(json["metadata"], nlohmann::json::object());
  ASSERT_EQ(json["errors"].size(), 1U) << json;
  EXPECT_EQ(json["errors"][0]["attempt"], 10);
  EXPECT_EQ(json["errors"][0]["error"], "boom 10");
  EXPECT_EQ(json["errors"][0]["type"], "retry");
  EXPECT_TRUE(std::regex_match(json["errors"][0]["at"].get<std::string>(), kRfc3339)) << json;
  EXPECT_TRUE(json["deleted_at"].is_null()) << json;

  const auto run = delta({"resources", "get", "thing", "b"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  const auto lines = lines_of(run.out);
  ASSERT_GE(lines.size(), 20U) << run.out;
  // Names in one column, values aligned after them.
  EXPECT_EQ(lines[0], "kind                 thing") << run.out;
  EXPECT_EQ(lines[1], "object id            b") << run.out;
  EXPECT_EQ(lines[4], "state                degraded") << run.out;
  EXPECT_EQ(lines[6], "attempt              10 of 10") << run.out;
  EXPECT_TRUE(contains(run.out, "\nlease owner          worker-1\n")) << run.out;
  EXPECT_TRUE(contains(run.out, "\nobject\n  {\n    \"action\": \"sync\",\n")) << run.out;
  EXPECT_TRUE(std::regex_search(
      run.out,
      std::regex("\nerrors\n  ATTEMPT  AT +TYPE   ERROR\n       10  \\S+Z  retry  boom 10\n")))
      << run.out;
}

TEST_F(cli_resources_pgtest, GetOfAMissingResourceExitsWithThree) {
  make_resources();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"resources", "get", "thing", "zzz"},
           {"resources", "get", "nothing", "a"},
           {"resources", "retry", "thing", "zzz", "--yes"},
       }) {
    const auto run = delta(args);
    EXPECT_EQ(run.exit_code, 3) << run.all();
    EXPECT_TRUE(contains(run.err, "delta: error: ")) << run.all();
    EXPECT_EQ(run.out, "");
  }
}

TEST_F(cli_resources_pgtest, CountInTotalAndByGroup) {
  make_resources();
  auto json = this->json({"resources", "count"});
  ASSERT_EQ(json["rows"].size(), 1U) << json;
  EXPECT_EQ(json["rows"][0]["count"], scalar("SELECT count(*) FROM {s}.delta_resource"));
  EXPECT_TRUE(json["rows"][0]["state"].is_null()) << json;
  EXPECT_EQ(json["total"], 5);

  json = this->json({"resources", "count", "--by", "state"});
  std::map<std::string, std::int64_t> by_state;
  for (const auto& row : json["rows"]) {
    EXPECT_TRUE(row["kind"].is_null()) << row;
    by_state[row["state"].get<std::string>()] = row["count"].get<std::int64_t>();
  }
  std::map<std::string, std::int64_t> sql_by_state;
  for (const auto& row :
       pool().exec(sql("SELECT state::text, count(*) FROM {s}.delta_resource GROUP BY 1"))) {
    sql_by_state[row.get<std::string>(0)] = row.get<std::int64_t>(1);
  }
  EXPECT_EQ(by_state, sql_by_state);
  EXPECT_EQ(json["total"], 5);

  json = this->json({"resources", "count", "--by", "namespace,kind", "--state", "scheduled"});
  std::map<std::string, std::int64_t> by_namespace;
  for (const auto& row : json["rows"]) {
    EXPECT_EQ(row["kind"], "thing");
    by_namespace[row["namespace"].get<std::string>()] = row["count"].get<std::int64_t>();
  }
  EXPECT_EQ(by_namespace, (std::map<std::string, std::int64_t>{{"default", 1}, {"other", 2}}));

  const auto run = delta({"resources", "count", "--by", "namespace", "--state", "scheduled"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 3U) << run.out;
  EXPECT_EQ(lines[0], "NAMESPACE  COUNT");
  const std::set<std::string> rows{lines[1], lines[2]};
  EXPECT_EQ(rows, (std::set<std::string>{"default        1", "other          2"})) << run.out;
}

TEST_F(cli_resources_pgtest, BadArgumentsExitWithTwo) {
  make_resources();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"resources", "list", "--state", "bogus"},
           {"resources", "list", "--limit", "0"},
           {"resources", "list", "--limit", "lots"},
           {"resources", "list", "--cursor", "not-a-cursor"},
           {"resources", "list", "--output", "yaml"},
           {"resources", "count", "--by", "colour"},
           {"resources", "get", "thing"},
           {"resources", "retry"},
           {"resources", "retry", "--yes"},
           {"resources", "retry", "thing"},
           {"resources", "retry", "thing", "b", "--state", "degraded"},
           {"resources", "delete", "--state", "sideways", "--yes"},
           {"resources"},
       }) {
    const auto run = delta(args);
    EXPECT_EQ(run.exit_code, 2) << testing::PrintToString(args) << ": " << run.all();
    EXPECT_TRUE(contains(run.err, "delta: error: ")) << run.all();
  }
  EXPECT_EQ(state_of("b"), "degraded");
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE state = 'deleted'"), 0);
}

TEST_F(cli_resources_pgtest, BulkWithoutYesAndNoTerminalIsRefused) {
  make_resources();
  const auto run = delta({"resources", "retry", "--state", "degraded"});
  EXPECT_EQ(run.exit_code, 2) << run.all();
  EXPECT_TRUE(contains(run.err, "would retry 1 resource\n")) << run.all();
  EXPECT_TRUE(contains(run.err, "--yes")) << run.all();
  EXPECT_EQ(state_of("b"), "degraded");
  EXPECT_EQ(scalar("SELECT attempt FROM {s}.delta_resource WHERE object_id = 'b'"), 10);
}

TEST_F(cli_resources_pgtest, DryRunOnlyCounts) {
  make_resources();
  auto run = delta({"resources", "delete", "--namespace", "other", "--dry-run"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "would delete 2 resources\n");
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE state = 'deleted'"), 0);

  const auto json = this->json({"resources", "delete", "--namespace", "other", "--dry-run"});
  EXPECT_EQ(json, (nlohmann::json{
                      {"action", "delete"}, {"dry_run", true}, {"changed", 2}, {"batches", 0}}));
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE state = 'deleted'"), 0);
}

TEST_F(cli_resources_pgtest, BulkActionsWithYesChangeWhatTheySelect) {
  make_resources();
  auto run = delta({"resources", "retry", "--state", "degraded", "--yes"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "retried 1 resource\n");
  EXPECT_EQ(state_of("b"), "scheduled");
  EXPECT_EQ(scalar("SELECT attempt FROM {s}.delta_resource WHERE object_id = 'b'"), 0);

  run = delta({"resources", "invalidate", "thing", "a", "--yes"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "invalidated 1 resource\n");
  EXPECT_EQ(state_of("a"), "expired");

  pool().exec(
      sql("UPDATE {s}.delta_resource SET run_at = now() + interval '1 day' "
          "WHERE namespace = 'other'"));
  run = delta({"resources", "schedule-now", "--namespace", "other", "--yes"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "scheduled 2 resources now\n");
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource "
                   "WHERE namespace = 'other' AND run_at <= now()"),
            2);

  const auto json = this->json({"resources", "delete", "--tag", "red", "--yes"});
  EXPECT_EQ(json["action"], "delete");
  EXPECT_EQ(json["dry_run"], false);
  EXPECT_EQ(json["changed"], 2);
  EXPECT_EQ(column("SELECT object_id FROM {s}.delta_resource WHERE state = 'deleted' "
                   "ORDER BY object_id"),
            (std::vector<std::string>{"b", "c"}));
}

TEST_F(cli_resources_pgtest, BulkOnATerminalAsksFirst) {
  make_resources();
  auto run = delta::testing::run_delta_in_terminal(
      {"resources", "delete", "--namespace", "other", "--schema", schema_name()}, "Proceed? [y/N]",
      "n");
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_TRUE(contains(run.out, "would delete 2 resources")) << run.out;
  EXPECT_TRUE(contains(run.out, "aborted")) << run.out;
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_resource WHERE state = 'deleted'"), 0);

  run = delta::testing::run_delta_in_terminal(
      {"resources", "delete", "--namespace", "other", "--schema", schema_name()}, "Proceed? [y/N]",
      "y");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_TRUE(contains(run.out, "\rdeleted 2 of 2 resources")) << "progress: " << run.out;
  EXPECT_TRUE(contains(run.out, "\ndeleted 2 resources")) << run.out;
  EXPECT_EQ(column("SELECT object_id FROM {s}.delta_resource WHERE state = 'deleted' "
                   "ORDER BY object_id"),
            (std::vector<std::string>{"d", "e"}));
}

TEST_F(cli_resources_pgtest, AnUnmigratedSchemaExitsWithFive) {
  delta::migrate(pool(),
                 {.schema = schema_name(), .direction = delta::MigrateDirection::down, .steps = 1});
  const auto run = delta({"resources", "list"});
  EXPECT_EQ(run.exit_code, 5) << run.all();
  EXPECT_TRUE(contains(run.err, "delta migrate up")) << run.all();
}

}  // namespace
