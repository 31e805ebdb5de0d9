// The checks every job passes before it is written.
#pragma once

#include <string>

#include <delta/jobs.hpp>

namespace delta::jobs {

// Validates one job; throws ValidationError naming the field (prefixed by `where`).
void validate_insert(const JobInsert& job, const std::string& where = {});

}  // namespace delta::jobs
