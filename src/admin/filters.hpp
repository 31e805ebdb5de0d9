// The filters of the admin API: their checks, and their parameters in the order every
// admin statement over resources ($1..$11) or jobs ($1..$4) takes them.
#pragma once

#include <delta/admin.hpp>
#include <delta/pg_values.hpp>

namespace delta::admin {

// Throws ValidationError naming the first bad value.
void check(const ResourceFilter& filter);
void check(const JobFilter& filter);

pg::Params resource_params(const ResourceFilter& filter);
pg::Params job_params(const JobFilter& filter);

}  // namespace delta::admin
