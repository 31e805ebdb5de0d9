// The SQL registry and its renderer (schema/statements.hpp): every embedded query and
// migration renders, and the placeholder syntax behaves as documented (no database).
#include "schema/statements.hpp"

#include <algorithm>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <delta/errors.hpp>

#include "schema/migrations.hpp"

namespace {

using delta::schema::Condition;
using delta::schema::embedded_queries;
using delta::schema::render;
using delta::schema::render_query;

// Every condition of the optional blocks the stores and the admin API turn on and off,
// all set to `on`. A file with another condition fails
// EveryQueryRendersWithNoPlaceholderLeft until it is added here.
std::string render_all(const std::string& name, bool on) {
  return render_query(name, "my_schema",
                      {{"full", on},
                       {"newest", on},
                       {"oldest", on},
                       {"due_later", on},
                       {"retry", on},
                       {"invalidate", on},
                       {"delete", on},
                       {"schedule_now", on},
                       {"cancel", on},
                       {"kinds", on},
                       {"named", on},
                       {"namespaces", on},
                       {"queues", on}});
}

// The message of the Error that rendering `sql` throws ("" when it renders).
std::string render_error(std::string_view sql, std::initializer_list<Condition> conditions = {}) {
  try {
    render(sql, "s", conditions);
  } catch (const delta::Error& e) {
    return e.what();
  }
  return "";
}

void expect_rendered(const std::string& sql, const std::string& what) {
  EXPECT_EQ(sql.find("/*"), std::string::npos) << what << ":\n" << sql;
  EXPECT_EQ(sql.find("*/"), std::string::npos) << what << ":\n" << sql;
  EXPECT_EQ(sql.find("{{"), std::string::npos) << what << ":\n" << sql;
}

TEST(statements_test, EveryQueryRendersWithNoPlaceholderLeft) {
  ASSERT_FALSE(embedded_queries().empty());
  for (const auto& query : embedded_queries()) {
    for (bool on : {false, true}) {
      const std::string name(query.name);
      std::string sql;
      ASSERT_NO_THROW(sql = render_all(name, on)) << name;
      expect_rendered(sql, name);
      EXPECT_NE(sql.find_first_not_of(" \n"), std::string::npos) << name << " is empty";
    }
  }
}

TEST(statements_test, EveryMigrationRendersWithNoPlaceholderLeft) {
  for (const auto& migration : delta::schema::embedded_migrations()) {
    for (const char* sql : {migration.up, migration.down}) {
      std::string rendered;
      ASSERT_NO_THROW(rendered = render(sql, "my_schema")) << migration.name;
      expect_rendered(rendered, migration.name);
      EXPECT_NE(rendered.find("\"my_schema\""), std::string::npos) << migration.name;
    }
  }
}

TEST(statements_test, QueriesAreSortedUniqueAndFoundByName) {
  const auto queries = embedded_queries();
  EXPECT_TRUE(std::is_sorted(queries.begin(), queries.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
  EXPECT_EQ(std::adjacent_find(queries.begin(), queries.end(),
                               [](const auto& a, const auto& b) { return a.name == b.name; }),
            queries.end());
  for (const auto& query : queries) {
    EXPECT_EQ(delta::schema::query(query.name).data(), query.sql.data()) << query.name;
  }
  EXPECT_FALSE(delta::schema::query("resources/claim").empty());
  EXPECT_FALSE(delta::schema::query("jobs/fetch").empty());
}

TEST(statements_test, AMissingQueryIsAnErrorNamingIt) {
  try {
    delta::schema::query("resources/no_such_query");
    FAIL() << "no error";
  } catch (const delta::Error& e) {
    EXPECT_NE(std::string(e.what()).find("resources/no_such_query"), std::string::npos) << e.what();
  }
  EXPECT_THROW(render_query("jobs/claim", "s"), delta::Error);  // jobs have no claim
}

// The columns of a row as JobStore::parse_row and ResourceStore::parse_row read them.
const std::vector<std::string> kJobColumns = {
    "id",         "kind",         "queue",        "state::text",  "priority",     "args",
    "metadata",   "tags",         "attempt",      "max_attempts", "attempted_at", "attempted_by",
    "created_at", "scheduled_at", "finalized_at", "errors"};
const std::vector<std::string> kResourceColumns = {
    "id",           "kind",        "object_id",        "namespace",    "state::text",
    "object",       "generation",  "attempt",          "max_attempts", "run_at",
    "attempted_at", "synced_at",   "created_at",       "updated_at",   "external_created_at",
    "deleted_at",   "lease_owner", "lease_expires_at", "metadata",     "tags",
    "errors",       "priority"};

// `sql` without its -- comments, every run of whitespace one space.
std::string collapsed(const std::string& sql) {
  return std::regex_replace(std::regex_replace(sql, std::regex("--[^\n]*"), ""), std::regex("\\s+"),
                            " ");
}

// The column list from `pos`: "a.x, a.y::text, ..." as {"x", "y::text", ...}, as far as
// the items are columns of the first item's alias.
std::vector<std::string> column_list(const std::string& sql, std::size_t pos) {
  static const std::regex kItem("^([a-z]+\\.)?([a-z_]+(::text)?)\\b");
  std::vector<std::string> columns;
  std::string alias;
  for (;;) {
    std::smatch item;
    const std::string rest = sql.substr(pos, 80);
    if (!std::regex_search(rest, item, kItem)) break;
    if (columns.empty()) alias = item[1];
    if (item[1] != alias) break;
    columns.push_back(item[2]);
    pos += static_cast<std::size_t>(item.length(0));
    if (sql.compare(pos, 2, ", ") != 0) break;
    pos += 2;
  }
  return columns;
}

// The row column lists are written out in every file (no fragment placeholder): each one
// that the stores parse -- it starts with id and kind and has state as text -- must list
// exactly parse_row's columns in parse_row's order.
TEST(statements_test, RowColumnListsFollowParseRow) {
  static const std::regex kStart("(^|[^a-z_.])(([a-z]+\\.)?id, ([a-z]+\\.)?kind, )");
  int checked = 0;
  for (const auto& query : embedded_queries()) {
    const std::string name(query.name);
    const bool jobs = name.starts_with("jobs/") || name.starts_with("admin/jobs");
    const auto& expected = jobs ? kJobColumns : kResourceColumns;
    const std::string sql = collapsed(render_all(name, true));
    for (auto it = std::sregex_iterator(sql.begin(), sql.end(), kStart);
         it != std::sregex_iterator(); ++it) {
      const auto start = static_cast<std::size_t>(it->position(2));
      const auto columns = column_list(sql, start);
      if (std::find(columns.begin(), columns.end(), "state::text") == columns.end()) continue;
      EXPECT_EQ(columns, expected) << name << " at: " << sql.substr(start, 60);
      ++checked;
    }
  }
  EXPECT_GE(checked, 16);  // 7 in jobs/, 5 in resources/, 2 in each inform's full variant
}

TEST(statements_test, SchemaPlaceholders) {
  EXPECT_EQ(render("SELECT 1 FROM /* schema */delta_job j", "my_schema"),
            "SELECT 1 FROM \"my_schema\".delta_job j");
  EXPECT_EQ(render("CREATE SCHEMA /* schema_name */", "my_schema"), "CREATE SCHEMA \"my_schema\"");
  EXPECT_EQ(render("/*schema*/t, /*  schema  */u", "x"), "\"x\".t, \"x\".u");
  EXPECT_EQ(render("/* schema_name */", "a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(render("SELECT '{}'::text[] -- no placeholder here\n", "x"),
            "SELECT '{}'::text[] -- no placeholder here\n");
}

TEST(statements_test, AnUnknownPlaceholderIsAnErrorNamingIt) {
  const std::string error = render_error("SELECT * FROM /* shema */delta_job");
  EXPECT_NE(error.find("unknown placeholder /* shema */"), std::string::npos) << error;
  EXPECT_NE(render_error("SELECT 1 /* a prose comment */").find("/* a prose comment */"),
            std::string::npos);
  EXPECT_NE(render_error("SELECT {{schema}}.t /* {{schema}} */").find("{{schema}}"),
            std::string::npos);
}

TEST(statements_test, OptionalBlocksSelectCorrectly) {
  const std::string_view sql = "SELECT a/* if full */, b/* end */ FROM t";
  EXPECT_EQ(render(sql, "s", {{"full", true}}), "SELECT a, b FROM t");
  EXPECT_EQ(render(sql, "s", {{"full", false}}), "SELECT a FROM t");

  const std::string_view nested = "0/* if x */1/* if y */2/* end */3/* end */4";
  EXPECT_EQ(render(nested, "s", {{"x", true}, {"y", true}}), "01234");
  EXPECT_EQ(render(nested, "s", {{"x", true}, {"y", false}}), "0134");
  EXPECT_EQ(render(nested, "s", {{"x", false}, {"y", true}}), "04");

  // A dropped block keeps its line breaks; a placeholder in it renders to nothing.
  EXPECT_EQ(render("a\n/* if x */\nb /* schema */t\n/* end */\nc", "s", {{"x", false}}),
            "a\n\n\n\nc");
  EXPECT_EQ(render("a\n/* if x */\nb /* schema */t\n/* end */\nc", "s", {{"x", true}}),
            "a\n\nb \"s\".t\n\nc");
}

// Found by fuzz/migrations_fuzz.cpp: a placeholder written over two lines rendered to one,
// so that a server error named a line too early for everything after it.
TEST(statements_test, APlaceholderOverSeveralLinesKeepsItsLineBreaks) {
  EXPECT_EQ(render("SELECT 1 FROM /* schema\n*/t\nWHERE x", "s"),
            "SELECT 1 FROM \"s\".\nt\nWHERE x");
  EXPECT_EQ(render("a/* if x\n */b/* end\n\n*/c", "s", {{"x", true}}), "a\nb\n\nc");
  EXPECT_EQ(render("a/* if x\n */b/* end\n\n*/c", "s", {{"x", false}}), "a\n\n\nc");
  EXPECT_EQ(render(std::string_view("\xff\xff\xff\xff/8_/*schema\n*/*"), "fuzz"),
            "\xff\xff\xff\xff/8_\"fuzz\".\n*");
}

TEST(statements_test, TheInformVariantsSelectTheirColumns) {
  for (const char* name : {"resources/upsert", "resources/upsert_split"}) {
    const std::string full = render_query(name, "s", {{"full", true}});
    const std::string brief = render_query(name, "s", {{"full", false}});
    EXPECT_NE(full.find("up.errors"), std::string::npos) << name;
    EXPECT_NE(full.find("r.lease_expires_at"), std::string::npos) << name;
    EXPECT_EQ(brief.find("up.errors"), std::string::npos) << name;
    EXPECT_EQ(brief.find("r.lease_expires_at"), std::string::npos) << name;
    EXPECT_NE(brief.find("r.id, r.object_id, r.state::text AS state"), std::string::npos) << name;
  }
}

TEST(statements_test, MalformedBlocksAreErrors) {
  EXPECT_NE(render_error("a /* if fulll */ b /* end */", {{"full", true}}).find("\"fulll\""),
            std::string::npos);
  EXPECT_NE(render_error("a /* if full */ b /* end */").find("\"full\""), std::string::npos);
  EXPECT_NE(render_error("a /* end */").find("without an /* if */"), std::string::npos);
  EXPECT_NE(render_error("a /* if full */ b", {{"full", true}}).find("/* if full */ without"),
            std::string::npos);
  EXPECT_NE(render_error("a /* schema").find("not closed"), std::string::npos);
  EXPECT_NE(render_error("-- see /* schema */t\nSELECT 1").find("-- comment"), std::string::npos);
}

}  // namespace

namespace {

TEST(statements_test, AnIncludeRendersTheFragmentInPlace) {
  // admin/_job_filter is a fragment of the admin statements.
  const auto fragment = delta::schema::render_query("admin/_job_filter", "s");
  const auto sql =
      delta::schema::render("SELECT 1 FROM t j WHERE /* include admin/_job_filter */ LIMIT 1", "s");
  EXPECT_NE(sql.find(fragment.substr(fragment.find("(cardinality"), 40)), std::string::npos) << sql;
  EXPECT_NE(sql.find("\"s\".job_state[]"), std::string::npos) << sql;
  EXPECT_NE(sql.find(" LIMIT 1"), std::string::npos) << sql;
  expect_rendered(sql, "include");
  // An included part inside a dropped block is dropped with it.
  const auto dropped = delta::schema::render(
      "SELECT 1 /* if f */WHERE /* include admin/_job_filter *//* end */", "s", {{"f", false}});
  EXPECT_EQ(dropped.find("cardinality"), std::string::npos) << dropped;
  EXPECT_NE(render_error("/* include admin/no_such */").find("no_such"), std::string::npos);
}

}  // namespace
