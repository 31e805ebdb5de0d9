// The optimistic limited claim of ResourceStore (docs/flow-control.md): it claims first and
// checks the limits after, in one transaction; a claim that would go over a limit is rolled
// back whole (nothing stays leased) and the pessimistic claim then takes what the limits
// leave; the rate limiter's state it stores is the one the client's own arithmetic gives.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <delta/migrate.hpp>
#include <delta/pg.hpp>

#include "resources/store.hpp"
#include "runtime/flow.hpp"
#include "support/pg_test.hpp"

namespace {

using delta::internal::FlowLimit;
using delta::resources::ResourceStore;
using delta::resources::UpsertRow;
using delta::runtime::FlowStore;
using delta::runtime::FlowTable;

class optimistic_claim_pgtest : public ::testing::Test {
 protected:
  void SetUp() override {
    delta::migrate(schema_.pool(), {.schema = schema_.name()});
    auto conn = schema_.pool().acquire();
    store_.upsert_namespace(*conn, "default", std::nullopt, std::nullopt, std::nullopt,
                            std::nullopt);
    store_.upsert_controller(*conn, "thing", std::nullopt, std::nullopt);
    std::vector<UpsertRow> rows;
    for (int i = 0; i < 10; ++i) {
      UpsertRow r;
      r.object_id = fmt::format("t{:02}", i);
      r.namespace_name = "default";
      r.body = "{}";
      r.metadata = "{}";
      rows.push_back(std::move(r));
    }
    store_.upsert(*conn, "thing", rows, false, false, true, std::nullopt);
  }

  void limit_kind(FlowLimit limit) {
    auto conn = schema_.pool().acquire();
    kinds_.register_limits(*conn, {"thing"}, {limit});
  }
  void limit_namespace(FlowLimit limit) {
    auto conn = schema_.pool().acquire();
    namespaces_.register_limits(*conn, {"default"}, {limit});
  }

  std::optional<ResourceStore::LimitedClaim> optimistic(int count) {
    auto conn = schema_.pool().acquire();
    return store_.claim_optimistic(*conn, kinds_, namespaces_, "default", {"thing"}, {count},
                                   {60'000}, count, "client-a", std::nullopt, {});
  }
  ResourceStore::LimitedClaim pessimistic(int count) {
    auto conn = schema_.pool().acquire();
    return store_.claim_limited(*conn, kinds_, namespaces_, "default", {"thing"}, {count}, {60'000},
                                count, "client-a", std::nullopt, {});
  }

  std::int64_t pending() {
    auto conn = schema_.pool().acquire();
    return conn
        ->exec(fmt::format("SELECT count(*) FROM {}.delta_resource WHERE state = 'pending'",
                           schema_.name()))
        .one()
        .get<std::int64_t>(0);
  }
  // The kind's stored rate state minus the database's clock, in microseconds.
  std::int64_t tat_ahead_us() {
    auto conn = schema_.pool().acquire();
    return conn
        ->exec(
            fmt::format("SELECT (extract(epoch FROM rate_tat - clock_timestamp()) * 1e6)::bigint "
                        "FROM {}.delta_controller WHERE kind = 'thing'",
                        schema_.name()))
        .one()
        .get<std::int64_t>(0);
  }

  delta::testing::ScratchSchema schema_;
  ResourceStore store_{schema_.name()};
  FlowStore kinds_{schema_.name(), FlowTable::kinds};
  FlowStore namespaces_{schema_.name(), FlowTable::namespaces};
};

TEST_F(optimistic_claim_pgtest, AClaimWithinTheCapTakesWhatItAsksFor) {
  limit_kind({3, std::nullopt});
  auto claimed = optimistic(2);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->rows.size(), 2U);
  EXPECT_FALSE(claimed->capped);
  EXPECT_EQ(pending(), 2);
  // One more reaches the cap exactly: taken, and the claim says so.
  claimed = optimistic(1);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->rows.size(), 1U);
  EXPECT_TRUE(claimed->capped);
  EXPECT_EQ(pending(), 3);
}

TEST_F(optimistic_claim_pgtest, AClaimOverTheCapIsRolledBackAndThePessimisticOneTakesTheRest) {
  limit_kind({3, std::nullopt});
  EXPECT_FALSE(optimistic(5).has_value());
  EXPECT_EQ(pending(), 0);  // nothing stayed leased
  auto claimed = pessimistic(5);
  EXPECT_EQ(claimed.rows.size(), 3U);
  EXPECT_TRUE(claimed.cut);
  EXPECT_TRUE(claimed.capped);
  EXPECT_EQ(pending(), 3);
  // At the cap, even one more is refused.
  EXPECT_FALSE(optimistic(1).has_value());
  EXPECT_EQ(pending(), 3);
}

TEST_F(optimistic_claim_pgtest, ANamespacesCapRefusesAClaimOverIt) {
  limit_namespace({2, std::nullopt});
  EXPECT_FALSE(optimistic(3).has_value());
  EXPECT_EQ(pending(), 0);
  auto claimed = optimistic(2);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->rows.size(), 2U);
}

TEST_F(optimistic_claim_pgtest, TheRateStateStoredIsTheClientsArithmetic) {
  // 10 per second: starts 102 ms apart, a lookahead of one step: two starts now.
  limit_kind({std::nullopt, delta::RateLimit{10, std::chrono::seconds(1)}});
  EXPECT_FALSE(optimistic(3).has_value());  // three would not fit
  EXPECT_EQ(pending(), 0);
  // Two do; the claim's own check (an invariant) compares the stored state with the
  // client's plan, and their starts are one step apart.
  auto claimed = optimistic(2);
  ASSERT_TRUE(claimed.has_value());
  ASSERT_EQ(claimed->starts.size(), 2U);
  const auto spacing = std::chrono::duration_cast<std::chrono::microseconds>(claimed->starts[1] -
                                                                             claimed->starts[0]);
  EXPECT_EQ(spacing.count(), 102'000);
  // The state stored: two steps past the claim's clock, so ~204 ms ahead now.
  const auto ahead = tat_ahead_us();
  EXPECT_GT(ahead, 150'000);
  EXPECT_LE(ahead, 204'000);
  // Nothing is left before the next step: refused, and the pessimistic claim takes none and
  // says when the next start is due.
  EXPECT_FALSE(optimistic(1).has_value());
  auto held = pessimistic(1);
  EXPECT_TRUE(held.rows.empty());
  EXPECT_TRUE(held.next_due.has_value());
}

TEST_F(optimistic_claim_pgtest, TwoRateLimitersOverTheSameStartsAreLeftToThePessimisticClaim) {
  limit_kind({std::nullopt, delta::RateLimit{1000, std::chrono::seconds(1)}});
  limit_namespace({std::nullopt, delta::RateLimit{1000, std::chrono::seconds(1)}});
  EXPECT_FALSE(optimistic(1).has_value());
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(pessimistic(1).rows.size(), 1U);
}

}  // namespace
