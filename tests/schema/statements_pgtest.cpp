// Every embedded query, rendered for a freshly migrated schema, is a statement
// PostgreSQL accepts: PREPARE parses and analyzes it (tables, columns, types, functions)
// without running it, so an error in any sql/queries/ file fails here.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <delta/errors.hpp>
#include <delta/migrate.hpp>
#include <delta/pg.hpp>

#include "schema/statements.hpp"
#include "support/pg_test.hpp"

namespace {

TEST(statements_pgtest, EveryQueryPrepares) {
  delta::testing::ScratchSchema schema("statements");
  delta::migrate(schema.pool(), {.schema = schema.name()});
  int prepared = 0;
  for (const auto& query : delta::schema::embedded_queries()) {
    // Each variant of the optional blocks once (most files have none: one text).
    std::set<std::string> variants;
    for (bool full : {false, true}) {
      try {
        variants.insert(delta::schema::render_query(query.name, schema.name(), {{"full", full}}));
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
