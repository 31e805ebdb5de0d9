// ClaimCursors (internal::ScanCursors over resource claim keys): where each kind's next
// claim starts (no database).
#include <chrono>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "resources/namespace_runner.hpp"

namespace {

using delta::Timestamp;
using delta::resources::ClaimCursors;
using delta::resources::ClaimKey;
using namespace std::chrono_literals;

Timestamp at(int seconds) {
  return Timestamp{std::chrono::seconds(seconds)};
}

ClaimCursors::Claimed got(int asked, int got, std::optional<ClaimKey> last = std::nullopt) {
  return {.asked = asked, .got = got, .last = last};
}

void expect_key(const std::optional<ClaimKey>& key, Timestamp run_at, std::int64_t id) {
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->run_at, run_at);
  EXPECT_EQ(key->id, id);
}

TEST(claim_cursors_test, AFullClaimMovesTheCursorToItsLastRow) {
  ClaimCursors cursors(2, 1000ms);
  auto t0 = ClaimCursors::Clock::now();
  auto first = cursors.begin(t0);
  ASSERT_EQ(first.size(), 2U);
  EXPECT_FALSE(first[0].has_value());  // nothing claimed yet: from the beginning
  EXPECT_FALSE(first[1].has_value());
  EXPECT_FALSE(cursors.claimed(first, {got(10, 10, ClaimKey{at(5), 42}), got(0, 0)}, false));
  auto second = cursors.begin(t0 + 10ms);
  expect_key(second[0], at(5), 42);
  EXPECT_FALSE(second[1].has_value());  // the kind asked for nothing: no cursor
}

TEST(claim_cursors_test, AShortClaimFromTheCursorAsksForAClaimFromTheBeginning) {
  ClaimCursors cursors(1, 1000ms);
  auto t0 = ClaimCursors::Clock::now();
  EXPECT_FALSE(cursors.claimed(cursors.begin(t0), {got(10, 10, ClaimKey{at(5), 42})}, false));
  auto from_cursor = cursors.begin(t0 + 1ms);
  ASSERT_TRUE(from_cursor[0].has_value());
  // Only 3 of 10 after the cursor: whatever is left lies behind it.
  EXPECT_TRUE(cursors.claimed(from_cursor, {got(10, 3, ClaimKey{at(6), 50})}, false));
  auto next = cursors.begin(t0 + 2ms);
  EXPECT_FALSE(next[0].has_value());
  // That claim from the beginning comes back short too: no further claim at once.
  EXPECT_FALSE(cursors.claimed(next, {got(10, 0)}, false));
  EXPECT_FALSE(cursors.begin(t0 + 3ms)[0].has_value());
}

TEST(claim_cursors_test, AClaimCappedByItsTotalLimitKeepsTheCursor) {
  ClaimCursors cursors(2, 1000ms);
  auto t0 = ClaimCursors::Clock::now();
  cursors.claimed(cursors.begin(t0),
                  {got(10, 10, ClaimKey{at(5), 42}), got(10, 10, ClaimKey{at(7), 9})}, false);
  auto after = cursors.begin(t0 + 1ms);
  // The total limit (10) was reached with the first kind: the second got nothing, but
  // may still have rows after its cursor.
  EXPECT_FALSE(cursors.claimed(after, {got(10, 10, ClaimKey{at(6), 60}), got(10, 0)}, true));
  auto next = cursors.begin(t0 + 2ms);
  expect_key(next[0], at(6), 60);
  expect_key(next[1], at(7), 9);
}

TEST(claim_cursors_test, EveryRescanIntervalAClaimStartsFromTheBeginning) {
  ClaimCursors cursors(1, 100ms);
  auto t0 = ClaimCursors::Clock::now();
  EXPECT_FALSE(cursors.begin(t0)[0].has_value());
  cursors.claimed({std::nullopt}, {got(5, 5, ClaimKey{at(1), 1})}, false);
  EXPECT_TRUE(cursors.begin(t0 + 50ms)[0].has_value());
  auto rescan = cursors.begin(t0 + 100ms);
  EXPECT_FALSE(rescan[0].has_value());
  // The full scan resets the interval; its full claim sets the cursor again.
  cursors.claimed(rescan, {got(5, 5, ClaimKey{at(2), 7})}, false);
  auto again = cursors.begin(t0 + 150ms);
  expect_key(again[0], at(2), 7);
  EXPECT_FALSE(cursors.begin(t0 + 200ms)[0].has_value());
}

TEST(claim_cursors_test, TheCursorNeverMovesBack) {
  ClaimCursors cursors(1, 1000ms);
  auto t0 = ClaimCursors::Clock::now();
  // Two claims in flight at once; the one that ends last took earlier rows.
  auto a = cursors.begin(t0);
  auto b = cursors.begin(t0);
  cursors.claimed(a, {got(5, 5, ClaimKey{at(3), 30})}, false);
  cursors.claimed(b, {got(5, 5, ClaimKey{at(3), 20})}, false);
  expect_key(cursors.begin(t0 + 1ms)[0], at(3), 30);
  // Equal run_at: the id decides; a later run_at beats any id.
  cursors.claimed(a, {got(5, 5, ClaimKey{at(4), 1})}, false);
  expect_key(cursors.begin(t0 + 2ms)[0], at(4), 1);
}

TEST(claim_cursors_test, ResetSendsTheNextClaimToTheBeginning) {
  ClaimCursors cursors(2, 1000ms);
  auto t0 = ClaimCursors::Clock::now();
  cursors.claimed(cursors.begin(t0), {got(5, 5, ClaimKey{at(1), 1}), got(5, 5, ClaimKey{at(2), 2})},
                  false);
  ASSERT_TRUE(cursors.begin(t0 + 1ms)[1].has_value());
  cursors.reset();
  auto next = cursors.begin(t0 + 2ms);
  EXPECT_FALSE(next[0].has_value());
  EXPECT_FALSE(next[1].has_value());
}

}  // namespace
