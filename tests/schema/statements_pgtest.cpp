// Every embedded query, rendered for a freshly migrated schema, is a statement
// PostgreSQL accepts: PREPARE parses and analyzes it (tables, columns, types, functions)
// without running it, so an error in any sql/queries/ file fails here.
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <delta/errors.hpp>
#include <delta/migrate.hpp>
#include <delta/pg.hpp>

#include "schema/statements.hpp"
#include "support/pg_test.hpp"

namespace {

using delta::schema::Condition;

// The combinations of optional blocks the code renders a query with: the job and resource
// stores turn `full` on and off; the admin API picks one order of a listing, one action of
// a bulk statement, and whether it only takes resources due later.
std::vector<std::vector<Condition>> variants_of(std::string_view name) {
  std::vector<std::vector<Condition>> out;
  const auto one_of = [&](std::initializer_list<std::string_view> choices, bool due_later) {
    for (auto chosen : choices) {
      std::vector<Condition> conditions{{"due_later", due_later}};
      for (auto choice : choices)
        conditions.push_back({choice, choice == chosen});
      out.push_back(std::move(conditions));
    }
  };
  if (name == "admin/resources_list" || name == "admin/jobs_list") {
    one_of({"newest", "oldest"}, false);
  } else if (name == "admin/resources_act") {
    for (bool due_later : {false, true})
      one_of({"retry", "invalidate", "delete", "schedule_now"}, due_later);
  } else if (name == "admin/jobs_act") {
    one_of({"retry", "cancel", "delete"}, false);
  } else if (name.starts_with("runtime/flow_") || name == "admin/set_limits") {
    // One table each: delta_controller (kinds), delta_namespace and delta_queue (named).
    out.push_back({{"kinds", true}, {"named", false}, {"namespaces", false}, {"queues", false}});
    out.push_back({{"kinds", false}, {"named", true}, {"namespaces", true}, {"queues", false}});
    out.push_back({{"kinds", false}, {"named", true}, {"namespaces", false}, {"queues", true}});
  } else {
    for (bool full : {false, true})
      out.push_back({{"full", full}, {"due_later", full}});
  }
  return out;
}

TEST(statements_pgtest, EveryQueryPrepares) {
  delta::testing::ScratchSchema schema("statements");
  delta::migrate(schema.pool(), {.schema = schema.name()});
  int prepared = 0;
  for (const auto& query : delta::schema::embedded_queries()) {
    // A fragment (admin/_resource_filter) is part of statements, not one.
    if (query.name.find("/_") != std::string_view::npos) continue;
    // Each variant of the optional blocks once (most files have none: one text).
    std::set<std::string> variants;
    for (const auto& conditions : variants_of(query.name)) {
      try {
        variants.insert(delta::schema::render_query(query.name, schema.name(), conditions));
      } catch (const delta::Error& e) {
        ADD_FAILURE() << e.what();
      }
    }
    for (const std::string& sql : variants) {
      // A prepared statement outlives the transaction: deallocated on the same connection.
      auto tx = schema.pool().begin();
      try {
        tx.exec("PREPARE delta_statement_check AS " + sql);
        tx.exec("DEALLOCATE delta_statement_check");
        ++prepared;
      } catch (const delta::DatabaseError& e) {
        ADD_FAILURE() << "sql/queries/" << query.name << ".sql: " << e.what() << "\n" << sql;
      }
      tx.rollback();
    }
  }
  EXPECT_GT(prepared, 0);
}

// The check itself: a statement PostgreSQL refuses fails to prepare.
TEST(statements_pgtest, ABrokenQueryFailsToPrepare) {
  delta::testing::ScratchSchema schema("statements");
  delta::migrate(schema.pool(), {.schema = schema.name()});
  const std::string broken = delta::schema::render(
      "SELECT no_such_column FROM /* schema */delta_job WHERE id = $1", schema.name());
  auto tx = schema.pool().begin();
  EXPECT_THROW(tx.exec("PREPARE delta_statement_check AS " + broken), delta::DatabaseError);
}

}  // namespace
