// A fixed instant for the value round trips of the codecs, COPY and the pool.
#pragma once

#include <chrono>

#include <delta/time.hpp>

namespace delta::testing {

// 2026-11-28 00:27:28.123456 UTC: a date, a time of day and microseconds, all of which a
// round trip must keep exactly.
constexpr Timestamp kInstant = std::chrono::sys_days{std::chrono::year{2026} / 11 / 28} +
                               std::chrono::minutes(27) + std::chrono::seconds(28) +
                               std::chrono::microseconds{123456};

}  // namespace delta::testing
