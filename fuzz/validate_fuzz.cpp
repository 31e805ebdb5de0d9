// Name, tag and object id validation (src/common/validate.hpp): never crashes, and accepts
// exactly what the rules written in that header say, checked here by regular expressions
// of the target's own.
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "check.hpp"
#include "common/validate.hpp"

namespace {

// Kinds, queues and namespaces: ^[a-z0-9]+([_-][a-z0-9]+)*$, at most 64 characters.
bool is_name(std::string_view value) {
  static const std::regex rule("[a-z0-9]+([_-][a-z0-9]+)*");
  return value.size() <= 64 && std::regex_match(value.begin(), value.end(), rule);
}

// Tags: ^\w[\w-]+\w$ with \w the ASCII letters, digits and '_', at most 255 characters.
bool is_tag(std::string_view value) {
  static const std::regex rule("[A-Za-z0-9_][A-Za-z0-9_-]+[A-Za-z0-9_]");
  return value.size() <= 255 && std::regex_match(value.begin(), value.end(), rule);
}

// Object ids: 1..254 bytes of well-formed UTF-8 without NUL. nlohmann::json's own UTF-8
// check (it refuses to dump what is not UTF-8) is the oracle.
bool is_utf8(std::string_view value) {
  try {
    (void)nlohmann::json(std::string(value)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}
bool is_object_id(std::string_view value) {
  return !value.empty() && value.size() <= 254 && value.find('\0') == std::string_view::npos &&
         is_utf8(value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  DELTA_FUZZ_CHECK(delta::internal::check_name(input).empty() == is_name(input));
  DELTA_FUZZ_CHECK(delta::internal::check_tag(input).empty() == is_tag(input));
  DELTA_FUZZ_CHECK(delta::internal::check_object_id(input).empty() == is_object_id(input));
  return 0;
}
