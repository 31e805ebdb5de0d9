// Broken invariants: conditions that only a bug in delta can make false (never bad input,
// never the database or the network going away).
//
// check_invariant() throws InvariantError, whose message says it is a bug and where it
// was found. Code on a background thread that must not throw reports it instead with
// invariant_message() at error level and takes the safe way out (e.g. gives the work back
// unworked); nothing goes on silently as if all were well.
#pragma once

#include <source_location>
#include <string>
#include <string_view>

#include <delta/errors.hpp>

namespace delta::internal {

class InvariantError : public Error {
 public:
  using Error::Error;
};

// "internal error (a bug in delta) at file:line: <what>".
std::string invariant_message(std::string_view what,
                              std::source_location where = std::source_location::current());

// Throws InvariantError naming `what` unless `condition` holds.
inline void check_invariant(bool condition, std::string_view what,
                            std::source_location where = std::source_location::current()) {
  if (!condition) throw InvariantError(invariant_message(what, where));
}

}  // namespace delta::internal
