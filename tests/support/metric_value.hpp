// Reading a client's metrics snapshot in tests.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <delta/metrics.hpp>

namespace delta::testing {

// The sum of family `name`'s samples whose labels include every one of `labels` (all its
// samples without labels); 0 when there is none.
inline double metric_value(const std::vector<MetricFamily>& families, std::string_view name,
                           const std::map<std::string, std::string>& labels = {}) {
  double sum = 0;
  for (const auto& family : families) {
    if (family.name != name) continue;
    for (const auto& sample : family.samples) {
      bool all = true;
      for (const auto& [label, value] : labels) {
        bool found = false;
        for (const auto& [have, have_value] : sample.labels)
          found = found || (have == label && have_value == value);
        all = all && found;
      }
      if (all) sum += sample.value;
    }
  }
  return sum;
}

}  // namespace delta::testing
