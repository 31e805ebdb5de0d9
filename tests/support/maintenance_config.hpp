// The client configuration of the informer and maintenance tests.
#pragma once

#include <string>

#include <delta/client.hpp>

namespace delta::testing {

// A configuration on `schema` whose leader runs the inform scheduler, the rescuer, the
// expirer and the cleaner every 100-200 ms, polls every 50 ms and logs warnings to stderr;
// no periodic informer runs (inform_interval -1 ms) and no jitter unless a test sets them.
// No controllers, no namespaces.
Config maintenance_config(const std::string& schema);

}  // namespace delta::testing
