// delta jobs list | get | retry | cancel | delete and delta queues list | pause | resume
// against a live PostgreSQL: what they print compared with what SQL says, and exit codes.
#include <cstdint>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.hpp"

namespace {

using delta::testing::contains;
using delta::testing::field_values;
using delta::testing::lines_of;
using Ids = std::multiset<std::string>;

class CliJobsTest : public delta::testing::CliAdminTest {
 protected:
  // Jobs 1 and 2: email in queue mail; 3: report in default; 4: report in default,
  // scheduled a day from now.
  void make_jobs() {
    for (const auto& [kind, queue] : std::vector<std::pair<std::string, std::string>>{
             {"email", "mail"}, {"email", "mail"}, {"report", "default"}, {"report", "default"}}) {
      ids_.push_back(insert_job(kind, queue, {{"n", ids_.size() + 1}}));
    }
    pool().exec(sql("UPDATE {s}.delta_job SET state = 'scheduled', "
                    "scheduled_at = now() + interval '1 day' WHERE id = $1"),
                ids_[3]);
  }
  std::string id(std::size_t job_idx) const { return std::to_string(ids_.at(job_idx)); }
  std::string state_of(std::size_t job_idx) {
    return column("SELECT state::text FROM {s}.delta_job WHERE id = " + id(job_idx)).at(0);
  }
  std::int64_t jobs_where(const std::string& where) {
    return scalar("SELECT count(*) FROM {s}.delta_job WHERE " + where);
  }

  std::vector<std::int64_t> ids_;
};

using cli_jobs_pgtest = CliJobsTest;

TEST_F(cli_jobs_pgtest, ListPrintsEveryJobAsJson) {
  make_jobs();
  const auto json = this->json({"jobs", "list"});
  EXPECT_TRUE(json["next_cursor"].is_null()) << json;
  const auto& rows = json["rows"];
  ASSERT_EQ(rows.size(), 4U) << json;
  const auto sql_ids = column("SELECT id::text FROM {s}.delta_job");
  EXPECT_EQ(field_values(rows, "id"), Ids(sql_ids.begin(), sql_ids.end()));
  for (const auto& row : rows) {
    const auto job_id = std::to_string(row["id"].get<std::int64_t>());
    EXPECT_EQ(row["state"],
              column("SELECT state::text FROM {s}.delta_job WHERE id = " + job_id).at(0));
    EXPECT_EQ(row["queue"], column("SELECT queue FROM {s}.delta_job WHERE id = " + job_id).at(0));
    EXPECT_EQ(row["priority"], 1);
    EXPECT_EQ(row["attempt"], 0);
    EXPECT_EQ(row["max_attempts"], 25);
    EXPECT_TRUE(row["finalized_at"].is_null()) << row;
    EXPECT_TRUE(row["last_error"].is_null()) << row;
    EXPECT_FALSE(row.contains("args")) << "a listing leaves the args out: " << row;
  }
}

TEST_F(cli_jobs_pgtest, ListFiltersAndPages) {
  make_jobs();
  const auto ids = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"jobs", "list"});
    return field_values(json(args)["rows"], "id");
  };
  EXPECT_EQ(ids({"--queue", "mail"}), (Ids{id(0), id(1)}));
  EXPECT_EQ(ids({"--kind", "report"}), (Ids{id(2), id(3)}));
  EXPECT_EQ(ids({"--state", "scheduled"}), (Ids{id(3)}));
  EXPECT_EQ(ids({"--state", "scheduled,available", "--queue", "default"}), (Ids{id(2), id(3)}));
  EXPECT_EQ(ids({"--queue", "mail", "--queue", "default", "--kind", "email"}), (Ids{id(0), id(1)}));

  const auto first = json({"jobs", "list", "--limit", "3"});
  ASSERT_EQ(first["rows"].size(), 3U) << first;
  ASSERT_TRUE(first["next_cursor"].is_string()) << first;
  const auto second = json({"jobs", "list", "--limit", "3", "--cursor", first["next_cursor"]});
  ASSERT_EQ(second["rows"].size(), 1U) << second;
  EXPECT_TRUE(second["next_cursor"].is_null()) << second;
  auto all = field_values(first["rows"], "id");
  all.merge(field_values(second["rows"], "id"));
  EXPECT_EQ(all, (Ids{id(0), id(1), id(2), id(3)}));
}

TEST_F(cli_jobs_pgtest, ListTableLayout) {
  make_jobs();
  pool().exec(sql(fmt::format(
      "UPDATE {{s}}.delta_job SET created_at = {0}, scheduled_at = {0}, state = 'available'",
      kLongAgo)));
  const auto run = delta({"jobs", "list", "--order", "oldest", "--queue", "mail"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, fmt::format("ID  QUEUE  KIND   STATE      PRIORITY  ATTEMPT  CREATED  "
                                 "SCHEDULED  LAST ERROR\n"
                                 "{:>2}  mail   email  available         1     0/25  3 d ago  "
                                 "3 d ago    -\n"
                                 "{:>2}  mail   email  available         1     0/25  3 d ago  "
                                 "3 d ago    -\n",
                                 id(0), id(1)));
}

TEST_F(cli_jobs_pgtest, GetPrintsEverything) {
  make_jobs();
  const auto json = this->json({"jobs", "get", id(3)});
  EXPECT_EQ(json["id"], ids_[3]);
  EXPECT_EQ(json["kind"], "report");
  EXPECT_EQ(json["queue"], "default");
  EXPECT_EQ(json["state"], "scheduled");
  EXPECT_EQ(json["args"], (nlohmann::json{{"n", 4}}));
  EXPECT_EQ(json["errors"], nlohmann::json::array());
  EXPECT_EQ(json["tags"], nlohmann::json::array());
  EXPECT_EQ(json["metadata"], nlohmann::json::object());
  EXPECT_TRUE(json["attempted_by"].is_null()) << json;

  const auto run = delta({"jobs", "get", id(3)});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  const auto lines = lines_of(run.out);
  ASSERT_GE(lines.size(), 12U) << run.out;
  EXPECT_EQ(lines[0], "id            " + id(3)) << run.out;
  EXPECT_EQ(lines[3], "state         scheduled") << run.out;
  EXPECT_TRUE(std::regex_search(run.out, std::regex("\nscheduled at  \\S+Z \\(in 23 h\\)\n")))
      << run.out;
  EXPECT_TRUE(contains(run.out, "\nargs\n  {\n    \"n\": 4\n  }\n")) << run.out;
  EXPECT_TRUE(contains(run.out, "\nerrors\n  none\n")) << run.out;
}

TEST_F(cli_jobs_pgtest, MissingJobsExitWithThreeAndBadArgumentsWithTwo) {
  make_jobs();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"jobs", "get", "999999"}, {"jobs", "cancel", "999999", "--yes"}}) {
    const auto run = delta(args);
    EXPECT_EQ(run.exit_code, 3) << run.all();
    EXPECT_TRUE(contains(run.err, "delta: error: ")) << run.all();
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"jobs", "get", "abc"},
           {"jobs", "get"},
           {"jobs", "list", "--state", "finished"},
           {"jobs", "list", "--limit", "1001"},
           {"jobs", "list", "--cursor", "garbage"},
           {"jobs", "cancel", "--yes"},
           {"jobs", "cancel", id(0), "--queue", "mail", "--yes"},
           {"queues", "pause"},
       }) {
    const auto run = delta(args);
    EXPECT_EQ(run.exit_code, 2) << testing::PrintToString(args) << ": " << run.all();
    EXPECT_TRUE(contains(run.err, "delta: error: ")) << run.all();
  }
  EXPECT_EQ(jobs_where("state = 'cancelled'"), 0);
}

TEST_F(cli_jobs_pgtest, BulkActionsAskCountAndAct) {
  make_jobs();
  auto run = delta({"jobs", "cancel", "--queue", "mail"});
  EXPECT_EQ(run.exit_code, 2) << run.all();
  EXPECT_TRUE(contains(run.err, "would cancel 2 jobs\n")) << run.all();
  EXPECT_EQ(jobs_where("state = 'cancelled'"), 0);

  run = delta({"jobs", "cancel", "--queue", "mail", "--dry-run"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "would cancel 2 jobs\n");
  EXPECT_EQ(jobs_where("state = 'cancelled'"), 0);

  run = delta({"jobs", "cancel", "--queue", "mail", "--yes"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "cancelled 2 jobs\n");
  EXPECT_EQ(jobs_where("state = 'cancelled' AND queue = 'mail' AND finalized_at IS NOT NULL"), 2);

  run = delta({"jobs", "retry", id(0), "--yes"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "retried 1 job\n");
  EXPECT_EQ(state_of(0), "available");
  EXPECT_EQ(state_of(1), "cancelled");

  const auto json = this->json({"jobs", "delete", "--state", "cancelled", "--yes"});
  EXPECT_EQ(json["action"], "delete");
  EXPECT_EQ(json["dry_run"], false);
  EXPECT_EQ(json["changed"], 1);
  EXPECT_EQ(jobs_where("id = " + id(1)), 0);
  EXPECT_EQ(jobs_where("true"), 3);
}

TEST_F(cli_jobs_pgtest, QueuesListPauseAndResume) {
  make_jobs();
  auto json = this->json({"queues", "list"});
  std::map<std::string, nlohmann::json> queues;
  for (const auto& row : json["rows"])
    queues[row["name"].get<std::string>()] = row;
  ASSERT_EQ(queues.count("mail"), 1U) << json;
  ASSERT_EQ(queues.count("default"), 1U) << json;
  EXPECT_EQ(queues["mail"]["states"]["available"], jobs_where("queue = 'mail'"));
  EXPECT_EQ(queues["default"]["states"]["available"], 1);
  EXPECT_EQ(queues["default"]["states"]["scheduled"], 1);
  EXPECT_EQ(queues["default"]["states"]["completed"], 0);
  EXPECT_EQ(queues["default"]["total"], 2);
  EXPECT_EQ(queues["mail"]["paused"], false);
  EXPECT_TRUE(queues["mail"]["paused_at"].is_null()) << json;

  auto run = delta({"queues", "pause", "mail"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "paused queue mail\n");
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_queue "
                   "WHERE name = 'mail' AND paused_at IS NOT NULL"),
            1);
  json = this->json({"queues", "list"});
  for (const auto& row : json["rows"]) {
    EXPECT_EQ(row["paused"], row["name"] == "mail") << row;
  }

  pool().exec(sql(
      fmt::format("UPDATE {{s}}.delta_queue SET paused_at = {} WHERE name = 'mail'", kLongAgo)));
  run = delta({"queues", "list"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 3U) << run.out;
  EXPECT_EQ(lines[0],
            "QUEUE    PAUSED   AVAILABLE  SCHEDULED  RUNNING  RETRYABLE  COMPLETED  CANCELLED  "
            "DISCARDED  OLDEST WAITING  LIMITS")
      << run.out;
  // The last column is how long the oldest available job has waited: a few milliseconds.
  EXPECT_TRUE(std::regex_match(
      lines[1] + "\n" + lines[2],
      std::regex("default  -                1          1        0          0          0          "
                 "0          0  \\d+ m?s +-\n"
                 "mail     3 d ago          2          0        0          0          0          "
                 "0          0  \\d+ m?s +-")))
      << run.out;

  run = delta({"queues", "resume", "mail"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "resumed queue mail\n");
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_queue WHERE paused_at IS NOT NULL"), 0);

  // A name no job ever had may be a typo: said, and done anyway.
  run = delta({"queues", "pause", "mial"});
  EXPECT_EQ(run.exit_code, 0) << run.all();
  EXPECT_EQ(run.out, "paused queue mial\n");
  EXPECT_TRUE(contains(run.err, "no queue mial is known")) << run.all();
  EXPECT_EQ(scalar("SELECT count(*) FROM {s}.delta_queue WHERE paused_at IS NOT NULL"), 1);
}

}  // namespace
