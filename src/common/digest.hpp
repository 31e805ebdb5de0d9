// Content digests computed in the client.
#pragma once

#include <string>
#include <string_view>

namespace delta::internal {

// SHA-256 of `data` as 64 lowercase hex digits (what Postgres'
// encode(sha256(convert_to(data, 'UTF8')), 'hex') gives for UTF-8 text).
std::string sha256_hex(std::string_view data);

}  // namespace delta::internal
