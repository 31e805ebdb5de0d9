// Flow control shared by kinds, namespaces and job queues (docs/flow-control.md).
#pragma once

#include <chrono>
#include <string>

#include <delta/export.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

// At most `count` work starts per `per`, across every process sharing the database. Starts
// are spaced per / count apart, and 2% more (a generic cell rate algorithm; the margin
// absorbs threads waking late): over any window of length `per` there are at most
// count + 1. count >= 1; per >= 1 ms.
struct RateLimit {
  int count = 0;
  std::chrono::milliseconds per{0};
  friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

// "50/1s", "600/1m", "100/500ms": count per the largest whole unit of `per`.
std::string to_string(const RateLimit& rate);

}  // namespace delta

DELTA_PUBLIC_END
