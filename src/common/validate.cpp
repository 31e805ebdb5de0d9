#include "common/validate.hpp"

#include <fmt/format.h>

namespace delta::internal {

namespace {
bool lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
}  // namespace

std::string check_name(std::string_view value) {
  constexpr std::size_t kMax = 64;
  if (value.empty()) return "must not be empty";
  if (value.size() > kMax) return fmt::format("\"{}\" is longer than {} characters", value, kMax);
  bool after_separator = true;  // the first character must be [a-z0-9]
  for (char c : value) {
    if (lower_alnum(c)) {
      after_separator = false;
    } else if ((c == '_' || c == '-') && !after_separator) {
      after_separator = true;
    } else {
      after_separator = true;
      return fmt::format(
          "\"{}\" must match ^[a-z0-9]+([_-][a-z0-9]+)*$ (lowercase letters and digits, "
          "single '_' or '-' between them)",
          value);
    }
  }
  if (after_separator) {
    return fmt::format("\"{}\" must not end with '_' or '-'", value);
  }
  return {};
}

std::string check_tag(std::string_view value) {
  constexpr std::size_t kMax = 255;
  if (value.size() > kMax) return fmt::format("tag is longer than {} characters", kMax);
  bool ok = value.size() >= 3 && word(value.front()) && word(value.back());
  for (std::size_t i = 1; ok && i + 1 < value.size(); ++i) {
    ok = word(value[i]) || value[i] == '-';
  }
  if (!ok) {
    return fmt::format(
        "tag \"{}\" must match ^\\w[\\w-]+\\w$ (at least 3 characters: letters, digits, '_', "
        "and '-' inside)",
        value);
  }
  return {};
}

std::string check_object_id(std::string_view value) {
  constexpr std::size_t kMax = 254;
  if (value.empty()) return "id must not be empty";
  if (value.size() > kMax) {
    return fmt::format("id is {} bytes long; at most {} are allowed", value.size(), kMax);
  }
  return {};
}

namespace {
// Whether dumped JSON holds an escaped NUL (\u0000 preceded by an even number of
// backslashes), which jsonb rejects.
bool has_nul_escape(const std::string& text) {
  for (auto pos = text.find("\\u0000"); pos != std::string::npos;
       pos = text.find("\\u0000", pos + 1)) {
    std::size_t backslashes = 0;
    while (pos > backslashes && text[pos - backslashes - 1] == '\\')
      ++backslashes;
    if (backslashes % 2 == 0) return true;
  }
  return false;
}
}  // namespace

std::string dump_storable(const nlohmann::json& value, std::string& out) {
  if (value.is_discarded()) return "is not valid JSON";
  try {
    out = value.dump();
  } catch (const nlohmann::json::exception& e) {
    return std::string("cannot be stored as JSON: ") + e.what();
  }
  if (has_nul_escape(out)) return "contains a NUL character, which jsonb cannot store";
  return {};
}

void check_positive(std::vector<std::string>& problems, std::string_view name,
                    std::chrono::milliseconds value) {
  if (value.count() <= 0)
    problems.push_back(fmt::format("{} must be > 0 (got {} ms)", name, value.count()));
}

}  // namespace delta::internal
