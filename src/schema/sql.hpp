// Helpers the statement registries of every layer share.
#pragma once

#include <chrono>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <delta/attempt.hpp>
#include <delta/pg_values.hpp>

#include "pg/connection.hpp"
#include "schema/statements.hpp"

namespace delta::internal {

// `values` as one array literal: an element of a text[] batch column that the statement
// casts to text[] per row (a column of ragged arrays cannot be one two-dimensional array
// parameter).
inline std::string array_literal(const std::vector<std::string>& values) {
  std::string out;
  pg::Codec<std::vector<std::string>>::encode(values, out);
  return out;
}

// A JSON value as the text element of a batch column that the statement casts to jsonb
// per row: Postgres reads a jsonb[] parameter ~10x slower than text[] and a cast.
inline std::optional<std::string> json_text(const std::optional<nlohmann::json>& value) {
  if (!value) return std::nullopt;
  return value->dump();
}

// A NOTIFY channel name for `schema` (at most 63 bytes, as Postgres requires).
inline std::string channel_name(const std::string& schema, std::string_view suffix) {
  std::string name = schema + "_" + std::string(suffix);
  if (name.size() > 63)
    name = fmt::format("delta_{:x}_{}", std::hash<std::string>{}(schema), suffix);
  return name;
}

// How long a connection keeps a prepared plan of delta's queue and resource statements
// before preparing it again (see pg::Statement::max_plan_age): these tables grow from
// empty to millions of rows faster than autovacuum re-analyzes them.
inline constexpr std::chrono::milliseconds kMaxPlanAge{1000};
// ...once it also ran this many times on that connection since (at most a minute apart):
// statements at idle rates are not prepared again on the path from an inform to its work.
inline constexpr int kPlanMinRuns = 100;

// One of delta's prepared statements over its queue and resource tables: prepared again
// per kMaxPlanAge and kPlanMinRuns.
inline pg::Statement cached_statement(std::string name, std::string sql) {
  return pg::Statement{std::move(name), std::move(sql), kMaxPlanAge, kPlanMinRuns};
}

// Runs a prepared statement with its generic plan (pg::Statement::local_settings). At
// idle rates PostgreSQL plans some of delta's statements anew at every execution: after
// each preparation the first five executions are planned for their parameters, and for
// a batch of one row the custom plan's
// estimate stays below the generic one's (made for arrays of unknown size), so it keeps
// being chosen. Planning the claim or a one-object inform takes longer than running it
// (~0.4-0.6 ms against ~0.2-0.3 ms); both are on the path from an inform to its work.
// At busy rates PostgreSQL settles on the generic plan by itself, and the extra
// set_config costs ~10% of a small statement's throughput, so only those two use it.
inline const std::pair<std::string, std::string> kGenericPlan{"plan_cache_mode",
                                                              "force_generic_plan"};

// A statement over a batch whose arrays are joined with each other (results mapped back
// to input order): small batches run a cached plan; large ones are planned with their
// real sizes (a generic plan does not know them; planning costs ~1 ms against tens of
// milliseconds for the statement).
struct BatchStatement {
  static constexpr std::size_t kSmall = 64;
  pg::Statement single;
  pg::Statement small;
  pg::Statement large;
  BatchStatement() = default;
  // `generic_single`: a batch of one row runs the generic plan (see kGenericPlan).
  BatchStatement(const std::string& name, const std::string& sql, bool generic_single = false)
      : single{cached_statement(name + "_1", sql)},
        small{cached_statement(name, sql)},
        large{name + "_large", sql, {}, 0, true} {
    if (generic_single) single.local_settings.push_back(kGenericPlan);
  }
  const pg::Statement& operator()(std::size_t rows) const {
    if (rows == 1 && !single.local_settings.empty()) return single;
    return rows <= kSmall ? small : large;
  }
};

// The prefix of prepared-statement names of one layer for `schema`, so that clients of
// two schemas sharing a connection never collide.
inline std::string statement_prefix(std::string_view layer, const std::string& schema) {
  return fmt::format("{}{:x}_", layer, std::hash<std::string>{}(schema)&0xffffffff);
}

// The prepared statements of one store: each named with the store's statement_prefix
// and made of the store's query of the same name, sql/queries/<folder>/<name>.sql,
// rendered for the schema.
class StoreStatements {
 public:
  StoreStatements(std::string_view layer, std::string_view folder, const std::string& schema)
      : prefix_(statement_prefix(layer, schema)), folder_(folder), schema_(schema) {}

  std::string name(std::string_view name) const { return prefix_ + std::string(name); }
  std::string sql(std::string_view query,
                  std::initializer_list<schema::Condition> conditions = {}) const {
    return schema::render_query(folder_ + "/" + std::string(query), schema_, conditions);
  }
  // A cached_statement named after its query.
  pg::Statement cached(std::string_view query) const {
    return cached_statement(name(query), sql(query));
  }

 private:
  std::string prefix_;
  std::string folder_;
  std::string schema_;
};

// The errors array of a job or resource row.
inline std::vector<AttemptError> parse_attempt_errors(const std::vector<nlohmann::json>& entries) {
  std::vector<AttemptError> errors;
  errors.reserve(entries.size());
  for (const auto& e : entries) {
    AttemptError error;
    error.attempt = e.value("attempt", 0);
    error.error = e.value("error", "");
    error.type = e.value("type", "");
    if (auto at = e.find("at"); at != e.end() && at->is_string()) {
      try {
        error.at = pg::detail::parse_timestamp(at->get<std::string>());
      } catch (const std::exception&) {
      }
    }
    errors.push_back(std::move(error));
  }
  return errors;
}

}  // namespace delta::internal
