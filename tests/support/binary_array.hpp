// PostgreSQL's binary array format read back (what array_send writes and array_recv
// reads), and the input format of the binary_array fuzz target, shared by values_test,
// the fuzz target (fuzz/binary_array_fuzz.cpp) and binary_array_pgtest, which sends the
// target's corpus to the server. Header-only and free of GoogleTest, so that the fuzz
// build needs nothing of the test suite.
#pragma once

#include <bit>
#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace delta::testing {

// A binary array parameter taken apart.
struct BinaryArray {
  std::uint32_t ndim = 0;
  std::uint32_t has_null = 0;
  std::uint32_t element_oid = 0;
  std::uint32_t lower_bound = 0;
  std::vector<std::optional<std::string>> elements;  // each element's bytes; NULL empty
};

// Reads a one-dimensional (or empty) binary array; throws std::runtime_error when `data`
// is cut short or has bytes after the array.
inline BinaryArray parse_binary_array(std::string_view data) {
  std::size_t pos = 0;
  auto u32 = [&] {
    if (data.size() - pos < 4) throw std::runtime_error("binary array cut short");
    std::uint32_t value = 0;
    for (int byte_idx = 0; byte_idx < 4; ++byte_idx)
      value = (value << 8) | static_cast<unsigned char>(data[pos++]);
    return value;
  };
  BinaryArray array;
  array.ndim = u32();
  array.has_null = u32();
  array.element_oid = u32();
  std::uint32_t count = 0;
  if (array.ndim == 1) {
    count = u32();
    array.lower_bound = u32();
  }
  for (std::uint32_t element_idx = 0; element_idx < count; ++element_idx) {
    const std::uint32_t length = u32();
    if (length == 0xFFFFFFFFu) {
      array.elements.emplace_back(std::nullopt);
      continue;
    }
    if (data.size() - pos < length) throw std::runtime_error("binary array element cut short");
    array.elements.emplace_back(data.substr(pos, length));
    pos += length;
  }
  if (pos != data.size()) throw std::runtime_error("bytes after the binary array");
  return array;
}

// The big-endian integer of `bytes` (at most 8 of them), as the binary integer formats
// hold it.
inline std::uint64_t read_be(std::string_view bytes) {
  std::uint64_t value = 0;
  for (char byte : bytes)
    value = (value << 8) | static_cast<unsigned char>(byte);
  return value;
}

// The elements the binary_array fuzz target makes of its input: one per line ('\n'
// separates them, so an input of n newlines has n + 1 elements and the empty input one
// empty element); a line that is exactly \N is a NULL element. A single line "\E" (the
// whole input) is the empty array.
inline std::vector<std::optional<std::string>> array_input_elements(std::string_view input) {
  std::vector<std::optional<std::string>> elements;
  if (input == "\\E") return elements;
  for (;;) {
    const std::size_t newline = input.find('\n');
    const std::string_view line = input.substr(0, newline);
    if (line == "\\N") {
      elements.emplace_back(std::nullopt);
    } else {
      elements.emplace_back(std::string(line));
    }
    if (newline == std::string_view::npos) break;
    input.remove_prefix(newline + 1);
  }
  return elements;
}

// The bigint the fuzz target makes of one element: its decimal value when the whole
// element is one in range, else its first eight bytes read big-endian (so that every
// 64-bit pattern can be reached).
inline std::int64_t array_input_bigint(std::string_view element) {
  std::int64_t value = 0;
  const char* end = element.data() + element.size();
  const auto [stop, error] = std::from_chars(element.data(), end, value);
  if (error == std::errc() && stop == end) return value;
  return static_cast<std::int64_t>(read_be(element.substr(0, 8)));
}

// The numbers and booleans the fuzz target makes of its elements: for each, its
// array_input_bigint, that cut to integer and smallint, whether it is odd, and its bits as
// a double (NaN and -0.0 among them); a NULL element stays NULL in each.
struct ArrayInputScalars {
  std::vector<std::optional<std::int64_t>> bigints;
  std::vector<std::optional<std::int32_t>> integers;
  std::vector<std::optional<std::int16_t>> smallints;
  std::vector<std::optional<bool>> booleans;
  std::vector<std::optional<double>> doubles;
};

inline ArrayInputScalars array_input_scalars(
    const std::vector<std::optional<std::string>>& elements) {
  ArrayInputScalars scalars;
  for (const auto& element : elements) {
    if (!element) {
      scalars.bigints.emplace_back();
      scalars.integers.emplace_back();
      scalars.smallints.emplace_back();
      scalars.booleans.emplace_back();
      scalars.doubles.emplace_back();
      continue;
    }
    const std::int64_t bigint = array_input_bigint(*element);
    scalars.bigints.emplace_back(bigint);
    scalars.integers.emplace_back(static_cast<std::int32_t>(bigint));
    scalars.smallints.emplace_back(static_cast<std::int16_t>(bigint));
    scalars.booleans.emplace_back(bigint % 2 != 0);
    scalars.doubles.emplace_back(std::bit_cast<double>(bigint));
  }
  return scalars;
}

}  // namespace delta::testing
