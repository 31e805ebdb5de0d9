// SQLSTATE classification (DatabaseError::classify in <delta/errors.hpp>, applied to every
// error the pg layer raises): total over any input, never a pool timeout, and the class
// rules written beside DatabaseErrorKind, checked here by a table of the target's own:
// class 08, 57P01-57P03 and 57P05 connection, 40001 and 40P01 retryable, 23505 unique_violation,
// the rest of class 23 constraint, classes 22 and 42 bad_input, 57014 query_canceled, else
// other; anything but five characters is other. A DatabaseError made with the SQLSTATE
// has that kind, keeps the SQLSTATE and retries exactly connection and retryable errors.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <delta/errors.hpp>

#include "check.hpp"

namespace {

using delta::DatabaseError;
using Kind = delta::DatabaseErrorKind;

Kind documented_kind(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return Kind::other;
  const std::string_view error_class = sqlstate.substr(0, 2);
  const std::string_view subclass = sqlstate.substr(2);
  if (error_class == "08") return Kind::connection;
  if (error_class == "57" &&
      (subclass == "P01" || subclass == "P02" || subclass == "P03" || subclass == "P05")) {
    return Kind::connection;
  }
  if (error_class == "40" && (subclass == "001" || subclass == "P01")) return Kind::retryable;
  if (error_class == "23") return subclass == "505" ? Kind::unique_violation : Kind::constraint;
  if (error_class == "22" || error_class == "42") return Kind::bad_input;
  if (error_class == "57" && subclass == "014") return Kind::query_canceled;
  return Kind::other;
}

void check(std::string_view sqlstate) {
  const Kind kind = DatabaseError::classify(sqlstate);
  DELTA_FUZZ_CHECK(kind == documented_kind(sqlstate));
  DELTA_FUZZ_CHECK(kind != Kind::pool_timeout);
  const DatabaseError error{std::string(sqlstate), "message"};
  DELTA_FUZZ_CHECK(error.kind() == kind);
  DELTA_FUZZ_CHECK(error.sqlstate() == sqlstate);
  DELTA_FUZZ_CHECK(error.retryable() == (kind == Kind::connection || kind == Kind::retryable));
  // what() is a C string: a NUL ends it early (no server sends one in a SQLSTATE).
  if (!sqlstate.empty() && sqlstate.find('\0') == std::string_view::npos) {
    const std::string suffix = " (SQLSTATE " + std::string(sqlstate) + ")";
    DELTA_FUZZ_CHECK(std::string_view(error.what()).ends_with(suffix));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check(input);
  // Every five-character window, so that most inputs exercise the five-character rules.
  for (std::size_t start = 0; start + 5 <= input.size(); ++start)
    check(input.substr(start, 5));
  return 0;
}
