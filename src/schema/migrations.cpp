#include "schema/migrations.hpp"

#include <fmt/format.h>

#include <delta/errors.hpp>

namespace delta::schema {

namespace {

constexpr std::size_t kMaxSchemaName = 63;  // NAMEDATALEN - 1

bool is_lower_or_underscore(char c) {
  return (c >= 'a' && c <= 'z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

void validate_schema_name(std::string_view schema) {
  const auto bad = [&](std::string_view why) {
    throw ConfigError(fmt::format("schema \"{}\" is not a valid schema name: {}", schema, why));
  };
  if (schema.empty()) bad("it is empty");
  if (schema.size() > kMaxSchemaName) bad("it is longer than 63 characters");
  if (!is_lower_or_underscore(schema.front())) {
    bad("it must start with a lowercase letter or an underscore");
  }
  if (schema.starts_with("pg_")) bad("names starting with \"pg_\" are reserved by PostgreSQL");
  for (char c : schema) {
    if (!is_lower_or_underscore(c) && !is_digit(c)) {
      bad("it may contain only lowercase letters, digits and underscores");
    }
  }
}

}  // namespace delta::schema
