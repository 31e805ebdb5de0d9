// Time types shared by delta's public API.
#pragma once

#include <chrono>
#include <string>

#include <delta/export.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

// A point in time with PostgreSQL's precision (microseconds, UTC).
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

// The current time as a Timestamp.
inline Timestamp now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

// `time` as RFC 3339 in UTC with microseconds: "2026-12-03T08:14:03.512408Z".
std::string to_rfc3339(Timestamp time);

}  // namespace delta

DELTA_PUBLIC_END
