// Broken invariants name where they were checked (no database).
#include "common/invariant.hpp"

#include <string>

#include <gtest/gtest.h>

namespace {

using delta::internal::check_invariant;
using delta::internal::invariant_message;
using delta::internal::InvariantError;

TEST(invariant_test, TheMessageNamesTheCallersFileAndLine) {
  const int line = __LINE__ + 1;
  const std::string message = invariant_message("the count is negative");
  EXPECT_EQ(message, "internal error (a bug in delta) at " + std::string(__FILE__) + ":" +
                         std::to_string(line) + ": the count is negative");
}

TEST(invariant_test, ABrokenInvariantThrowsFromWhereItWasChecked) {
  int line = 0;
  try {
    line = __LINE__ + 1;
    check_invariant(1 + 1 == 3, "arithmetic holds");
    FAIL() << "no exception";
  } catch (const InvariantError& e) {
    EXPECT_EQ(std::string(e.what()), "internal error (a bug in delta) at " + std::string(__FILE__) +
                                         ":" + std::to_string(line) + ": arithmetic holds");
  }
  EXPECT_NO_THROW(check_invariant(1 + 1 == 2, "arithmetic holds"));
}

}  // namespace
