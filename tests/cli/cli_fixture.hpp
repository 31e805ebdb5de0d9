// A fixture for tests of the `delta` command's operator commands: a migrated schema of its
// own with the resource fixture's clients (ResourceTest, kind "thing"), the command run on
// that schema, and what SQL says to compare with what it printed.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/jobs.hpp>

#include "cli/cli_run.hpp"
#include "support/resource_test.hpp"

namespace delta::testing {

class CliAdminTest : public ResourceTest<::testing::Test, Thing> {
 public:
  CliAdminTest() : ResourceTest("cli") {}

  // delta `args` --schema <this test's schema>.
  CliRun delta(std::vector<std::string> args) {
    args.emplace_back("--schema");
    args.push_back(schema_name());
    return run_delta(args);
  }
  // What delta `args` --output json printed; a test failure unless it exited with 0 and
  // printed valid JSON (then null).
  nlohmann::json json(std::vector<std::string> args) {
    args.emplace_back("--output");
    args.emplace_back("json");
    const auto run = delta(args);
    EXPECT_EQ(run.exit_code, 0) << run.all();
    try {
      return nlohmann::json::parse(run.out);
    } catch (const nlohmann::json::parse_error& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "): " << run.out;
      return nullptr;
    }
  }

  // The first column of what `query` (with {s} for the schema) returns, as text.
  std::vector<std::string> column(std::string_view query) {
    std::vector<std::string> values;
    for (const auto& row : pool().exec(sql(query)))
      values.emplace_back(row.text(0));
    return values;
  }
  std::int64_t scalar(std::string_view query) {
    return pool().exec(sql(query)).one().get<std::int64_t>(0);
  }
  std::string sql(std::string_view query) const {
    return fmt::format(fmt::runtime(query), fmt::arg("s", "\"" + schema_name() + "\""));
  }

  // Informs Thing{key} with `opts` through the reader (scheduled, never worked).
  void inform(const std::string& key, const InformOpts& opts = {}) {
    reader().inform(Thing{key}, opts);
  }
  // Inserts a job of `kind` into `queue` through the reader; its id.
  std::int64_t insert_job(const std::string& kind, const std::string& queue,
                          nlohmann::json args = nlohmann::json::object()) {
    jobs::InsertOpts opts;
    opts.queue = queue;
    return reader().jobs().insert(jobs::JobInsert{kind, std::move(args), opts}).job.id;
  }
  // Every fixture row's times are set this far back, so that tables print them alike.
  static constexpr const char* kLongAgo = "now() - interval '3 days 1 hour'";
};

// The values of `field` in every object of `rows` (a JSON array), as text.
std::multiset<std::string> field_values(const nlohmann::json& rows, const std::string& field);

// The lines of `text`.
std::vector<std::string> lines_of(const std::string& text);

}  // namespace delta::testing
