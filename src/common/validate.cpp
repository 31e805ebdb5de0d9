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

namespace {
// The offset of the first byte that does not continue well-formed UTF-8 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or npos when all of it is.
std::size_t invalid_utf8_at(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) low = 0xa0;   // overlong
      if (lead == 0xed) high = 0x9f;  // surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) low = 0x90;   // overlong
      if (lead == 0xf4) high = 0x8f;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const unsigned char c = byte(i + k);
      const unsigned char min = k == 1 ? low : 0x80, max = k == 1 ? high : 0xbf;
      if (c < min || c > max) return i;
    }
    i += length;
  }
  return std::string_view::npos;
}
}  // namespace

std::string check_object_id(std::string_view value) {
  constexpr std::size_t kMax = 254;
  if (value.empty()) return "id must not be empty";
  if (value.size() > kMax) {
    return fmt::format("id is {} bytes long; at most {} are allowed", value.size(), kMax);
  }
  if (auto nul = value.find('\0'); nul != std::string_view::npos) {
    return fmt::format("id holds a NUL byte (at byte {}), which PostgreSQL text cannot store", nul);
  }
  if (auto bad = invalid_utf8_at(value); bad != std::string_view::npos) {
    return fmt::format("id is not valid UTF-8 (at byte {})", bad);
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
