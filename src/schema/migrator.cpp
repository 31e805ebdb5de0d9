// The migrator: applies and reverts the embedded migrations, records them in
// <schema>.delta_migration, and reports the database's version.
//
// A run holds a transaction-scoped advisory lock keyed by the schema name, so concurrent
// migrators of one schema serialise and the later ones find nothing left to do. All of a
// run's migrations share that one transaction.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <delta/errors.hpp>
#include <delta/migrate.hpp>
#include <delta/pg.hpp>

#include "pg/connection.hpp"
#include "schema/migrations.hpp"
#include "schema/statements.hpp"

namespace delta {

namespace {

// First key of the advisory lock every migrator takes ("delt"); the second is
// hashtext(schema), so migrators of different schemas do not wait for each other.
constexpr std::int32_t kMigrationLockClass = 0x64656c74;

constexpr std::string_view kCreateMigrationTable = R"sql(
CREATE TABLE /* schema */delta_migration (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT delta_migration_version_positive CHECK (version > 0)
);
COMMENT ON TABLE /* schema */delta_migration IS
  'Migrations of delta''s schema applied to this database (managed by delta migrate).';
)sql";

struct AppliedMigration {
  int version = 0;
  std::string name;
  Timestamp applied_at;
};

std::string migration_table(std::string_view schema) {
  return schema::render("/* schema */delta_migration", schema);
}

bool schema_exists(pg::Transaction& tx, std::string_view schema) {
  return tx
      .exec("SELECT to_regnamespace($1) IS NOT NULL", schema::render("/* schema_name */", schema))
      .one()
      .get<bool>(0);
}

bool migration_table_exists(pg::Transaction& tx, std::string_view schema) {
  return tx.exec("SELECT to_regclass($1) IS NOT NULL", migration_table(schema)).one().get<bool>(0);
}

// Applied migrations in version order; empty when the migration table does not exist.
std::vector<AppliedMigration> read_applied(pg::Transaction& tx, std::string_view schema) {
  std::vector<AppliedMigration> applied;
  if (!migration_table_exists(tx, schema)) return applied;
  auto rows = tx.exec(fmt::format("SELECT version, name, applied_at FROM {} ORDER BY version",
                                  migration_table(schema)));
  applied.reserve(rows.size());
  for (auto row : rows) {
    applied.push_back({row.get<std::int32_t>(0), row.get<std::string>(1), row.get<Timestamp>(2)});
  }
  return applied;
}

std::string too_new_message(std::string_view schema, int version, int latest) {
  return fmt::format(
      "database schema \"{}\" is at version {}, but this build of delta knows only versions up "
      "to {}: upgrade delta to a release that includes migration {}",
      schema, version, latest, version);
}

// Refuses a database this build cannot safely migrate: newer than the build, or with a
// migration history that has holes.
void check_applied(const std::vector<AppliedMigration>& applied, std::string_view schema) {
  if (applied.empty()) return;
  const int latest = latest_schema_version();
  if (applied.back().version > latest) {
    throw SchemaError(too_new_message(schema, applied.back().version, latest));
  }
  for (std::size_t index = 0; index < applied.size(); ++index) {
    if (applied[index].version != static_cast<int>(index) + 1) {
      std::vector<int> versions;
      versions.reserve(applied.size());
      for (const auto& migration : applied)
        versions.push_back(migration.version);
      throw SchemaError(fmt::format(
          "database schema \"{}\" has an inconsistent migration history: applied versions are "
          "{} but they must run contiguously from 1 (inspect {} and repair it by hand)",
          schema, fmt::join(versions, ", "), migration_table(schema)));
    }
  }
}

void validate(const MigrateOptions& options) {
  std::vector<std::string> problems;
  try {
    schema::validate_schema_name(options.schema);
  } catch (const ConfigError& e) {
    problems.insert(problems.end(), e.problems().begin(), e.problems().end());
  }
  if (options.steps && *options.steps < 1) {
    problems.push_back(fmt::format("steps must be at least 1 (got {})", *options.steps));
  }
  if (!problems.empty()) throw ConfigError(std::move(problems));
}

// Runs one migration script, naming the migration in any error it raises.
void run_script(pg::Transaction& tx, const schema::Migration& migration, std::string_view sql,
                std::string_view direction) {
  try {
    tx.connection().exec_script(sql);
  } catch (const DatabaseError& e) {
    std::string message = e.what();
    const std::string suffix = fmt::format(" (SQLSTATE {})", e.sqlstate());
    if (!e.sqlstate().empty() && message.ends_with(suffix)) {
      message.resize(message.size() - suffix.size());
    }
    throw DatabaseError(e.sqlstate(),
                        fmt::format("migration {} ({}) {} failed: {}", migration.version,
                                    migration.name, direction, message),
                        e.detail(), e.constraint());
  }
}

const schema::Migration& find_migration(int version) {
  return schema::embedded_migrations().at(static_cast<std::size_t>(version) - 1);
}

// After version 1 is reverted: drops the migration table, and the schema too when nothing
// else lives in it. "public" is never dropped.
void drop_bookkeeping(pg::Transaction& tx, std::string_view schema) {
  tx.connection().exec_script(fmt::format("DROP TABLE {}", migration_table(schema)));
  if (schema == "public") return;
  tx.savepoint("delta_drop_schema");
  try {
    tx.connection().exec_script(schema::render("DROP SCHEMA /* schema_name */", schema));
    tx.release_savepoint("delta_drop_schema");
  } catch (const DatabaseError& e) {
    // Typically 2BP01: the user keeps other objects in the schema. Leave it.
    if (e.kind() == DatabaseErrorKind::connection) throw;
    tx.rollback_to("delta_drop_schema");
  }
}

}  // namespace

int latest_schema_version() noexcept {
  const auto& migrations = schema::embedded_migrations();
  return migrations.empty() ? 0 : migrations.back().version;
}

MigrateResult migrate(pg::Pool& pool, const MigrateOptions& options) {
  validate(options);
  const std::string& schema = options.schema;
  const int latest = latest_schema_version();

  auto tx = pool.begin();
  tx.exec("SELECT pg_advisory_xact_lock($1, hashtext($2))", kMigrationLockClass, schema);

  if (options.direction == MigrateDirection::up && !migration_table_exists(tx, schema)) {
    // Only when missing: CREATE SCHEMA needs the CREATE privilege on the database even
    // with IF NOT EXISTS, and an operator may have created the schema for us.
    if (!schema_exists(tx, schema)) {
      tx.connection().exec_script(schema::render("CREATE SCHEMA /* schema_name */", schema));
    }
    tx.connection().exec_script(schema::render(kCreateMigrationTable, schema));
  }

  const auto applied = read_applied(tx, schema);
  check_applied(applied, schema);

  MigrateResult result;
  result.version_before = static_cast<int>(applied.size());
  int version = result.version_before;
  const std::string insert_sql =
      fmt::format("INSERT INTO {} (version, name) VALUES ($1, $2)", migration_table(schema));
  const std::string delete_sql =
      fmt::format("DELETE FROM {} WHERE version = $1", migration_table(schema));

  if (options.direction == MigrateDirection::up) {
    const int target =
        options.steps && *options.steps < latest - version ? version + *options.steps : latest;
    while (version < target) {
      const auto& migration = find_migration(++version);
      run_script(tx, migration, schema::render(migration.up, schema), "up");
      tx.exec(insert_sql, static_cast<std::int32_t>(version), std::string_view(migration.name));
      result.versions.push_back(version);
    }
  } else {
    const int target = std::max(0, version - options.steps.value_or(1));
    while (version > target) {
      const auto& migration = find_migration(version);
      run_script(tx, migration, schema::render(migration.down, schema), "down");
      tx.exec(delete_sql, static_cast<std::int32_t>(version));
      result.versions.push_back(version);
      --version;
    }
    if (!result.versions.empty() && version == 0) drop_bookkeeping(tx, schema);
  }

  tx.commit();
  result.version_after = version;
  return result;
}

std::vector<MigrationInfo> migration_status(pg::Pool& pool, std::string_view schema) {
  schema::validate_schema_name(schema);
  auto tx = pool.begin();
  const auto applied = read_applied(tx, schema);
  tx.rollback();

  std::vector<MigrationInfo> status;
  for (const auto& migration : schema::embedded_migrations()) {
    status.push_back({migration.version, migration.name, false, std::nullopt});
  }
  for (const auto& row : applied) {
    auto known = std::find_if(status.begin(), status.end(), [&](const MigrationInfo& info) {
      return info.version == row.version;
    });
    if (known == status.end()) {
      status.push_back({row.version, std::string(), true, row.applied_at});
    } else {
      known->applied = true;
      known->applied_at = row.applied_at;
    }
  }
  std::sort(status.begin(), status.end(),
            [](const MigrationInfo& a, const MigrationInfo& b) { return a.version < b.version; });
  return status;
}

int current_schema_version(pg::Pool& pool, std::string_view schema) {
  schema::validate_schema_name(schema);
  auto tx = pool.begin();
  if (!migration_table_exists(tx, schema)) return 0;
  return tx.exec(fmt::format("SELECT coalesce(max(version), 0) FROM {}", migration_table(schema)))
      .one()
      .get<std::int32_t>(0);
}

void check_schema(pg::Pool& pool, std::string_view schema) {
  const int version = current_schema_version(pool, schema);
  const int latest = latest_schema_version();
  if (version == latest) return;
  if (version > latest) {
    throw SchemaError(fmt::format(
        "database schema \"{}\" is at version {}, newer than this build of delta (which knows "
        "versions up to {}): upgrade delta",
        schema, version, latest));
  }
  const std::string command = schema == "delta"
                                  ? std::string("delta migrate up")
                                  : fmt::format("delta migrate up --schema {}", schema);
  throw SchemaError(
      fmt::format("database schema \"{}\" is at version {}, this build needs {}: run `{}`", schema,
                  version, latest, command));
}

}  // namespace delta
