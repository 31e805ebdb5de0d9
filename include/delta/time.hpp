// Time types shared by delta's public API.
#pragma once

#include <chrono>

#include <delta/export.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

// A point in time with PostgreSQL's precision (microseconds, UTC).
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

// The current time as a Timestamp.
inline Timestamp now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

}  // namespace delta

DELTA_PUBLIC_END
