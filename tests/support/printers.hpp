// Readable names for delta's enums in GoogleTest's failure messages (found by argument-
// dependent lookup: include this where the values are compared).
#pragma once

#include <ostream>

#include <delta/jobs.hpp>
#include <delta/resource.hpp>

namespace delta {
// Each prints to_string(value).
void PrintTo(ResourceState state, std::ostream* out);
void PrintTo(InformStatus status, std::ostream* out);
void PrintTo(EventCategory category, std::ostream* out);
}  // namespace delta

namespace delta::jobs {
// Each prints to_string(value).
void PrintTo(JobState state, std::ostream* out);
void PrintTo(JobEventKind kind, std::ostream* out);
}  // namespace delta::jobs
