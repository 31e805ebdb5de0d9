// The binary array parameters of <delta/pg_values.hpp> (send_array, and Params::add for a
// vector): taken apart again as array_recv reads them (tests/support/binary_array.hpp),
// they hold the elements they were made of, text, bigint, integer, smallint, boolean and
// double alike; the text-format literal (encode_array) parses back to the same elements.
// The input is a list of elements, one per line, "\N" a NULL (array_input_elements);
// binary_array_pgtest sends the committed corpus through the server's own array_recv.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <delta/pg_values.hpp>

#include "check.hpp"
#include "support/binary_array.hpp"

namespace {

namespace pg = delta::pg;
using delta::testing::array_input_elements;
using delta::testing::array_input_scalars;
using delta::testing::BinaryArray;
using delta::testing::parse_binary_array;
using delta::testing::read_be;

template <class T>
using Optionals = std::vector<std::optional<T>>;

// Checks the frame of a binary array of `count` elements of `element_oid`.
void check_frame(const BinaryArray& array, std::size_t count, bool has_null, unsigned element_oid) {
  DELTA_FUZZ_CHECK(array.element_oid == element_oid);
  DELTA_FUZZ_CHECK(array.elements.size() == count);
  if (count == 0) {
    DELTA_FUZZ_CHECK(array.ndim == 0);
    DELTA_FUZZ_CHECK(array.has_null == 0);
    return;
  }
  DELTA_FUZZ_CHECK(array.ndim == 1);
  DELTA_FUZZ_CHECK(array.lower_bound == 1);
  DELTA_FUZZ_CHECK(array.has_null == (has_null ? 1u : 0u));
}

// send_array of `values` read back: `same(bytes, value)` holds for each element.
template <class T, class Same>
void check_round_trip(const Optionals<T>& values, Same same) {
  std::string encoded;
  pg::send_array<T>(values, pg::kIdentity, encoded);
  const BinaryArray array = parse_binary_array(encoded);
  bool has_null = false;
  for (const auto& value : values)
    has_null = has_null || !value;
  check_frame(array, values.size(), has_null, pg::Codec<T>::element_oid);
  for (std::size_t element_idx = 0; element_idx < values.size(); ++element_idx) {
    const auto& sent = values[element_idx];
    const auto& read = array.elements[element_idx];
    DELTA_FUZZ_CHECK(sent.has_value() == read.has_value());
    if (sent) DELTA_FUZZ_CHECK(same(*read, *sent));
  }
  // Params::add sends a vector the same way, typed as the array type, in binary.
  pg::Params params(values);
  DELTA_FUZZ_CHECK(params.values().at(0) == encoded);
  DELTA_FUZZ_CHECK(params.types().at(0) == pg::Codec<T>::array_oid);
  DELTA_FUZZ_CHECK(params.formats().at(0) == 1);
}

// An integer element: exactly sizeof(Int) bytes, big-endian two's complement.
template <class Int>
bool same_int(const std::string& bytes, Int value) {
  return bytes.size() == sizeof(Int) && static_cast<Int>(read_be(bytes)) == value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Optionals<std::string> texts = array_input_elements(input);

  check_round_trip(texts,
                   [](const std::string& bytes, const std::string& text) { return bytes == text; });

  const delta::testing::ArrayInputScalars scalars = array_input_scalars(texts);
  check_round_trip(scalars.bigints, same_int<std::int64_t>);
  check_round_trip(scalars.integers, same_int<std::int32_t>);
  check_round_trip(scalars.smallints, same_int<std::int16_t>);
  check_round_trip(scalars.booleans, [](const std::string& bytes, bool value) {
    return bytes == std::string(1, value ? '\1' : '\0');
  });
  // Bit for bit: NaN and -0.0 come back as they went.
  check_round_trip(scalars.doubles, [](const std::string& bytes, double value) {
    return same_int(bytes, std::bit_cast<std::uint64_t>(value));
  });

  // The text-format literal, for element types that have no binary form.
  std::string literal;
  pg::encode_array(texts, pg::kIdentity, literal);
  DELTA_FUZZ_CHECK(pg::Codec<Optionals<std::string>>::decode(literal) == texts);
  return 0;
}
