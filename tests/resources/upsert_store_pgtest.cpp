// The upsert statements of ResourceStore, one by one: each of its four forms (its own
// transaction or inside one; statuses only or with the rows) must report every input
// row's status in input order, whatever the mix of new, changed, unchanged and deleted
// rows. Brief statements return only the rows that are not unchanged, by object id; the
// client maps them back.
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <delta/migrate.hpp>
#include <delta/pg.hpp>
#include <delta/resource.hpp>

#include "resources/store.hpp"
#include "support/pg_test.hpp"

namespace {

using delta::InformStatus;
using delta::resources::ResourceStore;
using delta::resources::UpsertRow;

UpsertRow row(std::string id, int version) {
  UpsertRow r;
  r.object_id = std::move(id);
  r.namespace_name = "default";
  r.body = fmt::format(R"({{"version":{}}})", version);
  r.metadata = "{}";
  return r;
}

std::string statuses(const std::vector<InformStatus>& status) {
  std::string out;
  for (auto s : status)
    out += std::string(out.empty() ? "" : " ") + std::string(delta::to_string(s));
  return out;
}

class upsert_store_pgtest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { delta::migrate(schema_.pool(), {.schema = schema_.name()}); }

  // Informs `rows` in their own transaction or inside one (committed), with or without
  // the rows (the test's parameter), and returns the statuses.
  std::vector<InformStatus> inform(const std::vector<UpsertRow>& rows, bool in_transaction) {
    const bool full = GetParam();
    if (in_transaction) {
      auto tx = schema_.pool().begin();
      auto out = store_.upsert(tx.connection(), "thing", rows, false, full, true, std::nullopt);
      tx.commit();
      check_rows(out, rows.size(), full);
      return out.status;
    }
    auto conn = schema_.pool().acquire();
    auto out = store_.upsert(*conn, "thing", rows, false, full, true, std::nullopt);
    check_rows(out, rows.size(), full);
    return out.status;
  }

  static void check_rows(const delta::resources::UpsertOutcomes& out, std::size_t n, bool full) {
    ASSERT_EQ(out.status.size(), n);
    ASSERT_EQ(out.rows.size(), full ? n : 0u);
  }

  void mark_deleted(const std::string& id) {
    schema_.pool().exec(fmt::format("UPDATE {} SET state = 'deleted', deleted_at = now() "
                                    "WHERE kind = 'thing' AND object_id = $1",
                                    schema_.table("delta_resource")),
                        id);
  }

  std::int64_t generation(const std::string& id) {
    return schema_.pool()
        .exec(fmt::format("SELECT generation FROM {} WHERE kind = 'thing' AND object_id = $1",
                          schema_.table("delta_resource")),
              id)
        .one()
        .get<std::int64_t>(0);
  }

  delta::testing::ScratchSchema schema_{"inform_store"};
  ResourceStore store_{schema_.name()};
};

TEST_P(upsert_store_pgtest, EveryStatusInInputOrderInBothForms) {
  for (bool in_transaction : {false, true}) {
    SCOPED_TRACE(in_transaction ? "inside a transaction" : "its own transaction");
    const std::string p = in_transaction ? "t" : "s";
    // Seed: a, b, c, d stored; d deleted.
    EXPECT_EQ(statuses(inform({row(p + "a", 1), row(p + "b", 1), row(p + "c", 1), row(p + "d", 1)},
                              in_transaction)),
              "inserted inserted inserted inserted");
    mark_deleted(p + "d");
    // Input order differs from id order; new ids sort before and after stored ones.
    const auto got = inform({row(p + "c", 2), row(p + "0", 1), row(p + "d", 2), row(p + "a", 1),
                             row(p + "z", 1), row(p + "b", 2)},
                            in_transaction);
    EXPECT_EQ(statuses(got), "changed inserted skipped_deleted unchanged inserted changed");
    EXPECT_EQ(generation(p + "c"), 2);
    EXPECT_EQ(generation(p + "b"), 2);
    EXPECT_EQ(generation(p + "a"), 1);
    EXPECT_EQ(generation(p + "d"), 1) << "a deleted row is not written without resurrect";
    // Nothing to write: every row unchanged (a brief statement returns no row at all).
    EXPECT_EQ(statuses(inform({row(p + "a", 1), row(p + "z", 1)}, in_transaction)),
              "unchanged unchanged");
    // Only a deleted row.
    EXPECT_EQ(statuses(inform({row(p + "d", 3)}, in_transaction)), "skipped_deleted");
  }
}

INSTANTIATE_TEST_SUITE_P(forms, upsert_store_pgtest, ::testing::Values(false, true),
                         [](const auto& param_info) {
                           return param_info.param ? "full" : "brief";
                         });

}  // namespace
