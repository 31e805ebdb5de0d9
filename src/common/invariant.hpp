// Broken invariants: conditions that only a bug in delta can make false (never bad input,
// never the database or the network going away).
//
// check_invariant() throws InvariantError, whose message says it is a bug and where it
// was found. Code on a background thread that must not throw reports it instead with
// invariant_message() at error level and takes the safe way out (e.g. gives the work back
// unworked); nothing goes on silently as if all were well.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <delta/errors.hpp>

namespace delta::internal {

class InvariantError : public Error {
 public:
  using Error::Error;
};

// Where a check is written: what std::source_location holds, which libstdc++ offers only to
// compilers with __builtin_source_location (not clang before 15, which builds fuzz/). As a
// default argument, current() is evaluated where the function that has it is called.
struct SourceLocation {
  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          std::uint_least32_t line = __builtin_LINE()) noexcept {
    return {file, line};
  }
  const char* file_name;
  std::uint_least32_t line;
};

// "internal error (a bug in delta) at file:line: <what>".
std::string invariant_message(std::string_view what,
                              SourceLocation where = SourceLocation::current());

// Throws InvariantError naming `what` unless `condition` holds.
inline void check_invariant(bool condition, std::string_view what,
                            SourceLocation where = SourceLocation::current()) {
  if (!condition) throw InvariantError(invariant_message(what, where));
}

}  // namespace delta::internal
