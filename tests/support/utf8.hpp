// Well-formed UTF-8, checked apart from the code under test (the JSON library, the
// server): shared by json_digest_fuzz and binary_array_pgtest. Header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace delta::testing {

// Whether `text` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates,
// nothing past U+10FFFF. NUL is well-formed.
inline bool valid_utf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto lead = static_cast<unsigned char>(text[pos]);
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if (lead < 0x80) {
      ++pos;
      continue;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      code_point = lead & 0x1Fu;
    } else if ((lead & 0xF0u) == 0xE0u) {
      length = 3;
      code_point = lead & 0x0Fu;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      code_point = lead & 0x07u;
    } else {
      return false;
    }
    if (text.size() - pos < length) return false;
    for (std::size_t byte_idx = 1; byte_idx < length; ++byte_idx) {
      const auto byte = static_cast<unsigned char>(text[pos + byte_idx]);
      if ((byte & 0xC0u) != 0x80u) return false;
      code_point = (code_point << 6) | (byte & 0x3Fu);
    }
    if (length == 3 && (code_point < 0x800 || (code_point >= 0xD800 && code_point <= 0xDFFF))) {
      return false;
    }
    if (length == 4 && (code_point < 0x10000 || code_point > 0x10FFFF)) return false;
    pos += length;
  }
  return true;
}

}  // namespace delta::testing
