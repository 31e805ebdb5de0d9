// A resource's content hash: the SHA-256 (src/common/digest.hpp) of the canonical form
// dump_storable gives its JSON body (src/common/validate.hpp), as the informer computes it.
// For the input read as JSON: the same value written otherwise (indented, with keys in
// reverse order, with every non-ASCII character escaped) hashes the same, and values
// derived from it that differ hash differently. For the input as one JSON string:
// dump_storable accepts it exactly when jsonb can store it (valid UTF-8, no NUL).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "check.hpp"
#include "common/digest.hpp"
#include "common/validate.hpp"
#include "support/utf8.hpp"

namespace {

using delta::testing::valid_utf8;
using nlohmann::json;

// The content hash, or nothing when dump_storable refuses the value.
std::optional<std::string> content_hash(const json& value) {
  std::string canonical;
  if (!delta::internal::dump_storable(value, canonical).empty()) return std::nullopt;
  return delta::internal::sha256_hex(canonical);
}

// Whether a string or an object key anywhere in `value` holds a NUL character.
bool holds_nul(const json& value) {
  if (value.is_string()) return value.get_ref<const std::string&>().find('\0') != std::string::npos;
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      if (key.find('\0') != std::string::npos || holds_nul(member)) return true;
    }
  }
  if (value.is_array()) {
    for (const auto& element : value) {
      if (holds_nul(element)) return true;
    }
  }
  return false;
}

// `value` as JSON text with every object's members in reverse order, whitespace between
// all tokens and every non-ASCII character escaped.
void write_reversed(const json& value, std::string& out) {
  const auto escaped = [](const json& scalar) { return scalar.dump(-1, ' ', true); };
  if (value.is_object()) {
    out += "{ ";
    for (auto member = value.rbegin(); member != value.rend(); ++member) {
      if (member != value.rbegin()) out += " ,\n";
      out += escaped(json(member.key()));
      out += "\t:\r";
      write_reversed(member.value(), out);
    }
    out += " }";
  } else if (value.is_array()) {
    out += "[ ";
    for (auto element = value.begin(); element != value.end(); ++element) {
      if (element != value.begin()) out += " , ";
      write_reversed(*element, out);
    }
    out += " ]";
  } else {
    out += escaped(value);
  }
}

// Values that differ from `value`: it wrapped in an array, and it changed at the top.
std::vector<json> differing_values(const json& value) {
  std::vector<json> values{json::array({value})};
  json changed = value;
  if (changed.is_object()) {
    if (changed.contains("delta")) {
      changed.erase("delta");
    } else {
      changed["delta"] = nullptr;
    }
  } else if (changed.is_array()) {
    changed.push_back(nullptr);
  } else if (changed.is_string()) {
    changed.get_ref<std::string&>() += '.';
  } else if (changed.is_boolean()) {
    changed = !changed.get<bool>();
  } else if (changed.is_null()) {
    changed = false;
  } else {
    changed = changed.dump();  // a number becomes the string of its digits
  }
  values.push_back(std::move(changed));
  return values;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const bool storable_text = valid_utf8(input) && input.find('\0') == std::string_view::npos;
  DELTA_FUZZ_CHECK(content_hash(json(std::string(input))).has_value() == storable_text);

  const json value = json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return 0;
  const std::optional<std::string> hash = content_hash(value);
  DELTA_FUZZ_CHECK(hash.has_value() == !holds_nul(value));
  if (!hash) return 0;
  DELTA_FUZZ_CHECK(hash->size() == 64);
  DELTA_FUZZ_CHECK(hash->find_first_not_of("0123456789abcdef") == std::string::npos);

  std::string reversed;
  write_reversed(value, reversed);
  for (const std::string& text :
       {value.dump(), value.dump(2), value.dump(-1, ' ', true), reversed}) {
    const json again = json::parse(text, nullptr, /*allow_exceptions=*/false);
    DELTA_FUZZ_CHECK(!again.is_discarded());
    DELTA_FUZZ_CHECK(content_hash(again) == hash);
  }
  for (const json& other : differing_values(value)) {
    const std::optional<std::string> other_hash = content_hash(other);
    DELTA_FUZZ_CHECK(other_hash.has_value());
    DELTA_FUZZ_CHECK(*other_hash != *hash);
  }
  return 0;
}
