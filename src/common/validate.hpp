// Input checks shared by every layer. Each returns an empty string when the value is
// fine, else a description of what is wrong (callers wrap it in ValidationError or
// collect it into a ConfigError).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace delta::internal {

// Kinds, queues and namespaces: ^[a-z0-9]+([_-][a-z0-9]+)*$, at most 64 characters.
std::string check_name(std::string_view value);
// Tags: ^\w[\w-]+\w$ (\w = ASCII letters, digits, underscore), at most 255 characters.
std::string check_tag(std::string_view value);
// Object ids: 1..254 bytes.
std::string check_object_id(std::string_view value);

// Serialises `value` into `out` (sorted keys, no spaces: the canonical form). Returns a
// problem when jsonb could not store it (invalid UTF-8, a NUL character).
std::string dump_storable(const nlohmann::json& value, std::string& out);

// Appends "<name> must be > 0 (got <n> ms)" to `problems` unless `value` is positive.
void check_positive(std::vector<std::string>& problems, std::string_view name,
                    std::chrono::milliseconds value);

}  // namespace delta::internal
