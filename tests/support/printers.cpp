#include "support/printers.hpp"

namespace delta {
void PrintTo(ResourceState state, std::ostream* out) {
  *out << to_string(state);
}
void PrintTo(InformStatus status, std::ostream* out) {
  *out << to_string(status);
}
void PrintTo(EventCategory category, std::ostream* out) {
  *out << to_string(category);
}
}  // namespace delta

namespace delta::jobs {
void PrintTo(JobState state, std::ostream* out) {
  *out << to_string(state);
}
void PrintTo(JobEventKind kind, std::ostream* out) {
  *out << to_string(kind);
}
}  // namespace delta::jobs
