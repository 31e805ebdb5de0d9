// What the migrator does with text (src/schema/): validate_schema_name accepts exactly
// ^[a-z_][a-z0-9_]*$ of at most 63 characters not starting with "pg_"
// (src/schema/migrations.hpp), and every embedded migration renders for a name it accepts;
// schema::render (src/schema/statements.hpp), which turns every migration and query file
// into the SQL that runs, fails only with delta::Error, and for the same structural
// reasons whichever conditions are on, keeps a file without placeholders as it is and
// every line break where it was (so that a server error's line numbers match the file),
// and renders its own output unchanged. The input is both the schema name and the file.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

#include <delta/errors.hpp>

#include "check.hpp"
#include "schema/migrations.hpp"
#include "schema/statements.hpp"

namespace {

namespace schema = delta::schema;

bool is_schema_name(std::string_view value) {
  static const std::regex rule("[a-z_][a-z0-9_]*");
  return value.size() <= 63 && !value.starts_with("pg_") &&
         std::regex_match(value.begin(), value.end(), rule);
}

bool accepts_schema_name(std::string_view value) {
  try {
    schema::validate_schema_name(value);
    return true;
  } catch (const delta::ConfigError&) {
    return false;
  }
}

// render(), or nothing when it reports the file as malformed.
std::optional<std::string> try_render(std::string_view sql, std::string_view schema_name,
                                      std::initializer_list<schema::Condition> conditions) {
  try {
    return schema::render(sql, schema_name, conditions);
  } catch (const delta::Error&) {
    return std::nullopt;
  }
}

std::size_t lines(std::string_view text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const bool valid_name = is_schema_name(input);
  DELTA_FUZZ_CHECK(accepts_schema_name(input) == valid_name);
  if (valid_name) {
    for (const schema::Migration& migration : schema::embedded_migrations()) {
      DELTA_FUZZ_CHECK(try_render(migration.up, input, {}).has_value());
      DELTA_FUZZ_CHECK(try_render(migration.down, input, {}).has_value());
    }
  }

  const std::string_view schema_name = "fuzz";
  const auto a_on = try_render(input, schema_name, {{"a", true}, {"b", false}});
  const auto b_on = try_render(input, schema_name, {{"a", false}, {"b", true}});
  DELTA_FUZZ_CHECK(a_on.has_value() == b_on.has_value());
  if (input.find("/*") == std::string_view::npos) {
    DELTA_FUZZ_CHECK(a_on == std::string(input));
    DELTA_FUZZ_CHECK(b_on == std::string(input));
  }
  if (!a_on) return 0;
  // Rendering keeps every line where it was, except that an included fragment brings its
  // own lines.
  if (input.find("include") == std::string_view::npos) {
    DELTA_FUZZ_CHECK(lines(*a_on) == lines(input));
    DELTA_FUZZ_CHECK(lines(*b_on) == lines(input));
  }
  // Placeholders are gone, unless a dropped part joined a '/' to a '*'.
  if (a_on->find("/*") == std::string::npos) {
    DELTA_FUZZ_CHECK(try_render(*a_on, schema_name, {}) == a_on);
  }
  return 0;
}
