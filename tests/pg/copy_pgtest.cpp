// CopyWriter (COPY ... FROM STDIN) against a live PostgreSQL. Each test works in its own
// schema, so tests can run in parallel.
//
// Suites are named after the executable so `ctest -R copy` selects them.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <delta/errors.hpp>
#include <delta/pg.hpp>
#include <delta/pg_values.hpp>
#include <delta/time.hpp>

#include "pg/connection.hpp"
#include "pg/copy.hpp"
#include "support/instant.hpp"
#include "support/pg_test.hpp"

namespace {

namespace dt = delta::testing;
using delta::DatabaseError;
using delta::DatabaseErrorKind;
using delta::Timestamp;
using delta::pg::Bytes;
using delta::pg::CopyWriter;
using namespace std::chrono_literals;

constexpr std::int64_t kRows = 100000;

// Texts that COPY's text format must escape (or must not mistake for markers).
const std::vector<std::string>& tricky_texts() {
  static const std::vector<std::string> texts = {
      "tab\there",
      "new\nline",
      "carriage\rreturn",
      "back\\slash",
      "\\N",
      "\\.",
      "héllo 世界 🚀",
      "",
      "ends with \\",
      "\\x00ff",
      "quote\"'",
      "NULL",
      "\t\n\\\r mixed",
      "\x01\x02 control",
      "{a,b}",
      "trailing space ",
  };
  return texts;
}

class Scratch : public dt::ScratchSchema {
 public:
  Scratch() : dt::ScratchSchema("copy") {}
  // Creates table `name` with the columns the row generator fills.
  void create_rows_table(std::string_view name) const {
    pool().exec("CREATE TABLE " + table(name) +
                " (id bigint PRIMARY KEY, name text NOT NULL, note text, doc jsonb NOT NULL, "
                "data bytea NOT NULL, at timestamptz)");
  }
  std::string copy_sql(std::string_view name) const {
    return "COPY " + table(name) + " (id, name, note, doc, data, at) FROM STDIN";
  }
};

struct GeneratedRow {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::string> note;
  nlohmann::json doc;
  Bytes data;
  std::optional<Timestamp> at;
};

bool is_tricky(std::int64_t id) {
  return id % 97 == 0;
}

GeneratedRow make_row(std::int64_t id) {
  GeneratedRow row;
  row.id = id;
  if (is_tricky(id)) {
    const auto& texts = tricky_texts();
    row.name = texts[static_cast<std::size_t>(id / 97) % texts.size()];
  } else {
    row.name = "row " + std::to_string(id);
  }
  if (id % 7 != 0) {
    row.note =
        (id % 3 == 0) ? "note\t" + std::to_string(id) + "\n\\" : "note " + std::to_string(id);
  }
  if (is_tricky(id)) {
    row.doc = {{"id", id}, {"name", row.name}, {"nested", {{"list", {id % 5, "x", nullptr}}}}};
    for (int byte = 0; byte < 256; ++byte) {
      row.data.push_back(static_cast<std::byte>(byte));
    }
  } else {
    row.doc = {{"id", id}};
    for (int shift = 0; shift < 64; shift += 16) {
      row.data.push_back(static_cast<std::byte>((id >> shift) & 0xff));
    }
  }
  if (id % 11 != 0) {
    row.at = dt::kInstant + std::chrono::microseconds{id * 1000003 - 50000000000};
  }
  return row;
}

void write_row(CopyWriter& copy, const GeneratedRow& row) {
  copy.row(row.id, row.name, row.note, row.doc, row.data, row.at);
}

// Writes the generated rows 1..`last`.
void write_rows(CopyWriter& copy, std::int64_t last) {
  for (std::int64_t id = 1; id <= last; ++id)
    write_row(copy, make_row(id));
}

TEST(copy_pgtest, LoadsManyRowsWithTrickyValues) {
  Scratch scratch;
  scratch.create_rows_table("items");
  std::vector<GeneratedRow> generated;
  generated.reserve(static_cast<std::size_t>(kRows));
  std::int64_t expected_id_sum = 0;
  std::int64_t expected_null_notes = 0;
  std::int64_t expected_null_ats = 0;
  for (std::int64_t id = 1; id <= kRows; ++id) {
    generated.push_back(make_row(id));
    expected_id_sum += id;
    if (!generated.back().note) ++expected_null_notes;
    if (!generated.back().at) ++expected_null_ats;
  }
  {
    auto tx = scratch.pool().begin();
    CopyWriter copy(tx.connection(), scratch.copy_sql("items"));
    for (const auto& row : generated) {
      write_row(copy, row);
    }
    EXPECT_EQ(copy.finish(), kRows);
    tx.commit();
  }

  auto totals_result = scratch.pool().exec(
      "SELECT count(*), sum(id)::bigint, count(*) FILTER (WHERE note IS NULL), "
      "count(*) FILTER (WHERE at IS NULL), "
      "count(*) FILTER (WHERE name IS NULL OR doc IS NULL OR data IS NULL) "
      "FROM " +
      scratch.table("items"));
  auto totals = totals_result.one();
  EXPECT_EQ(totals.get<std::int64_t>(0), kRows);
  EXPECT_EQ(totals.get<std::int64_t>(1), expected_id_sum);
  EXPECT_EQ(totals.get<std::int64_t>(2), expected_null_notes);
  EXPECT_EQ(totals.get<std::int64_t>(3), expected_null_ats);
  EXPECT_EQ(totals.get<std::int64_t>(4), 0);

  // Every tricky row, compared on the server against the same values sent as parameters.
  auto tricky = scratch.pool().exec(
      "SELECT count(*) FROM " + scratch.table("items") + " WHERE id % 97 = 0 AND name = $1",
      std::string("\\N"));
  EXPECT_GT(tricky.one().get<std::int64_t>(0), 0);
  for (std::size_t text_idx = 0; text_idx < tricky_texts().size(); ++text_idx) {
    std::int64_t id = 97 * static_cast<std::int64_t>(text_idx + tricky_texts().size());
    auto expected = make_row(id);
    ASSERT_EQ(expected.name, tricky_texts()[text_idx]);
    auto match_result = scratch.pool().exec(
        "SELECT name = $2, note IS NOT DISTINCT FROM $3, doc = $4, data = $5, "
        "at IS NOT DISTINCT FROM $6 FROM " +
            scratch.table("items") + " WHERE id = $1",
        id, expected.name, expected.note, expected.doc, expected.data, expected.at);
    auto match = match_result.one();
    for (int column = 0; column < 5; ++column) {
      EXPECT_TRUE(match.get<bool>(column)) << "id " << id << " column " << column + 1;
    }
  }

  // Every row read back and decoded.
  auto rows = scratch.pool().exec("SELECT id, name, note, doc, data, at FROM " +
                                  scratch.table("items") + " ORDER BY id");
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kRows));
  int mismatches = 0;
  for (auto row : rows) {
    auto id = row.get<std::int64_t>(0);
    ASSERT_TRUE(id >= 1 && id <= kRows) << id;
    const auto& expected = generated[static_cast<std::size_t>(id - 1)];
    bool same = row.get<std::string>(1) == expected.name &&
                row.get<std::optional<std::string>>(2) == expected.note &&
                row.get<nlohmann::json>(3) == expected.doc && row.get<Bytes>(4) == expected.data &&
                row.get<std::optional<Timestamp>>(5) == expected.at;
    if (!same && ++mismatches <= 5) ADD_FAILURE() << "row " << id << " differs";
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(copy_pgtest, EmptyCopyReturnsZero) {
  Scratch scratch;
  scratch.create_rows_table("items");
  auto conn = scratch.pool().acquire();
  CopyWriter copy(*conn, scratch.copy_sql("items"));
  EXPECT_EQ(copy.finish(), 0);
  EXPECT_EQ(scratch.count("items"), 0);
}

TEST(copy_pgtest, NulloptFieldIsNull) {
  Scratch scratch;
  scratch.pool().exec("CREATE TABLE " + scratch.table("t") + " (id bigint, note text)");
  auto conn = scratch.pool().acquire();
  CopyWriter copy(*conn, "COPY " + scratch.table("t") + " (id, note) FROM STDIN");
  copy.row(std::int64_t{1}, std::nullopt);
  copy.row(std::int64_t{2}, std::string("\\N"));
  copy.row(std::int64_t{3}, std::string(""));
  EXPECT_EQ(copy.finish(), 3);
  auto rows =
      conn->exec("SELECT id, note IS NULL, note FROM " + scratch.table("t") + " ORDER BY id");
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_TRUE(rows[0].get<bool>(1));
  EXPECT_FALSE(rows[1].get<bool>(1));
  EXPECT_EQ(rows[1].get<std::string>(2), "\\N");
  EXPECT_FALSE(rows[2].get<bool>(1));
  EXPECT_EQ(rows[2].get<std::string>(2), "");
}

TEST(copy_pgtest, DestroyedUnfinishedWriterWritesNothing) {
  Scratch scratch;
  scratch.create_rows_table("items");
  auto conn = scratch.pool().acquire();
  {
    CopyWriter copy(*conn, scratch.copy_sql("items"));
    // Enough rows that some chunks have already been sent to the server.
    write_rows(copy, 20000);
  }
  // The connection is out of COPY mode and usable.
  EXPECT_FALSE(conn->in_transaction());
  EXPECT_EQ(conn->exec("SELECT count(*) FROM " + scratch.table("items")).one().get<std::int64_t>(0),
            0);
  conn.release();
  EXPECT_EQ(scratch.count("items"), 0);
}

TEST(copy_pgtest, AbortWritesNothingAndConnectionStaysUsable) {
  Scratch scratch;
  scratch.create_rows_table("items");
  auto conn = scratch.pool().acquire();
  {
    CopyWriter copy(*conn, scratch.copy_sql("items"));
    write_rows(copy, 100);
    copy.abort("test abort");
  }
  EXPECT_EQ(conn->exec("SELECT count(*) FROM " + scratch.table("items")).one().get<std::int64_t>(0),
            0);
  // A new COPY on the same connection works.
  CopyWriter again(*conn, scratch.copy_sql("items"));
  write_rows(again, 10);
  EXPECT_EQ(again.finish(), 10);
  EXPECT_EQ(scratch.count("items"), 10);
}

TEST(copy_pgtest, UnfinishedWriterInTransactionWritesNothing) {
  Scratch scratch;
  scratch.create_rows_table("items");
  {
    auto tx = scratch.pool().begin();
    CopyWriter copy(tx.connection(), scratch.copy_sql("items"));
    write_rows(copy, 100);
  }
  EXPECT_EQ(scratch.count("items"), 0);
  EXPECT_EQ(scratch.pool().stats().in_use, 0U);
}

TEST(copy_pgtest, RolledBackTransactionDiscardsCopiedRows) {
  Scratch scratch;
  scratch.create_rows_table("items");
  {
    auto tx = scratch.pool().begin();
    CopyWriter copy(tx.connection(), scratch.copy_sql("items"));
    write_rows(copy, 100);
    EXPECT_EQ(copy.finish(), 100);
    EXPECT_EQ(tx.exec("SELECT count(*) FROM " + scratch.table("items")).one().get<std::int64_t>(0),
              100);
    tx.rollback();
  }
  EXPECT_EQ(scratch.count("items"), 0);
}

TEST(copy_pgtest, TypeErrorFailsFinish) {
  Scratch scratch;
  scratch.pool().exec("CREATE TABLE " + scratch.table("t") + " (id bigint, note text)");
  auto conn = scratch.pool().acquire();
  {
    CopyWriter copy(*conn, "COPY " + scratch.table("t") + " (id, note) FROM STDIN");
    copy.row(std::int64_t{1}, std::string("fine"));
    copy.row(std::string("not a number"), std::string("bad"));
    try {
      copy.finish();
      ADD_FAILURE() << "finish() accepted text in a bigint column";
    } catch (const DatabaseError& e) {
      EXPECT_EQ(e.sqlstate(), "22P02") << e.what();
      EXPECT_EQ(e.kind(), DatabaseErrorKind::bad_input);
    }
  }
  EXPECT_FALSE(conn->in_transaction());
  EXPECT_EQ(conn->exec("SELECT count(*) FROM " + scratch.table("t")).one().get<std::int64_t>(0), 0);
}

TEST(copy_pgtest, TypeErrorEarlyInLargeCopy) {
  // The server rejects the first row while later chunks are still being sent; the error
  // surfaces from row() or finish(), never as success.
  Scratch scratch;
  scratch.create_rows_table("items");
  auto conn = scratch.pool().acquire();
  bool failed = false;
  try {
    CopyWriter copy(*conn, scratch.copy_sql("items"));
    copy.row(std::string("x"), std::string("bad"), std::nullopt, nlohmann::json::object(), Bytes{},
             std::nullopt);
    write_rows(copy, 30000);
    copy.finish();
  } catch (const DatabaseError& e) {
    failed = true;
    EXPECT_EQ(e.sqlstate(), "22P02") << e.what();
  }
  EXPECT_TRUE(failed);
  EXPECT_EQ(conn->exec("SELECT count(*) FROM " + scratch.table("items")).one().get<std::int64_t>(0),
            0);
}

TEST(copy_pgtest, UniqueViolationFailsFinish) {
  Scratch scratch;
  scratch.create_rows_table("items");
  auto conn = scratch.pool().acquire();
  CopyWriter copy(*conn, scratch.copy_sql("items"));
  write_row(copy, make_row(1));
  write_row(copy, make_row(1));
  try {
    copy.finish();
    ADD_FAILURE() << "duplicate key accepted";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), "23505") << e.what();
    EXPECT_EQ(e.kind(), DatabaseErrorKind::unique_violation);
    EXPECT_EQ(e.constraint(), "items_pkey");
    EXPECT_NE(e.detail().find("already exists"), std::string::npos) << e.detail();
  }
  EXPECT_EQ(conn->exec("SELECT count(*) FROM " + scratch.table("items")).one().get<std::int64_t>(0),
            0);
}

TEST(copy_pgtest, BadCopyStatementThrows) {
  Scratch scratch;
  auto conn = scratch.pool().acquire();
  try {
    CopyWriter copy(*conn, "COPY " + scratch.table("missing") + " (id) FROM STDIN");
    copy.row(std::int64_t{1});
    copy.finish();
    ADD_FAILURE() << "COPY into a missing table succeeded";
  } catch (const DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), "42P01") << e.what();
  }
  EXPECT_EQ(conn->exec("SELECT 1").one().get<std::int32_t>(0), 1);
}

}  // namespace
