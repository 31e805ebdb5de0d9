#include "cli/cli_fixture.hpp"

#include <sstream>

namespace delta::testing {

std::multiset<std::string> field_values(const nlohmann::json& rows, const std::string& field) {
  std::multiset<std::string> values;
  for (const auto& row : rows) {
    const auto& value = row.at(field);
    values.insert(value.is_string() ? value.get<std::string>() : value.dump());
  }
  return values;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);)
    lines.push_back(line);
  return lines;
}

}  // namespace delta::testing
