// The migrations compiled into the library (sql/migrations/, see cmake/embed_sql.cmake).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace delta::schema {

struct Migration {
  int version;
  const char* name;
  const char* up;    // SQL with placeholders (schema::render in schema/statements.hpp)
  const char* down;  // SQL with placeholders
};

// Every migration, ordered by version, versions contiguous from 1.
const std::vector<Migration>& embedded_migrations();

// Validates a schema name (^[a-z_][a-z0-9_]*$, at most 63 chars, no "pg_" prefix);
// throws ConfigError.
void validate_schema_name(std::string_view schema);

}  // namespace delta::schema
