// Schema migrations.
//
// delta keeps every table in one PostgreSQL schema (default "delta"). The migrations are
// compiled into the library; migrate() brings a database up to this build's version.
//
//   delta::migrate(*pool);                                   // all pending, idempotent
//   delta::migrate(*pool, {.direction = delta::MigrateDirection::down, .steps = 1});
//
// Concurrent migrators (several processes starting at once) serialise on an advisory
// lock; each run applies its migrations in one transaction, so a failure leaves the
// database at the version it started from.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <delta/export.hpp>
#include <delta/pg.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

enum class MigrateDirection { up, down };

struct MigrateOptions {
  // PostgreSQL schema holding delta's tables; created by the first migration if missing.
  // Must match ^[a-z_][a-z0-9_]*$, be at most 63 characters and not start with "pg_"
  // (reserved by PostgreSQL).
  std::string schema = "delta";
  MigrateDirection direction = MigrateDirection::up;
  // Most migrations to apply (up) or revert (down). Unset: every pending one going up,
  // exactly one going down. Must be >= 1 when set.
  std::optional<int> steps = std::nullopt;
};

struct MigrateResult {
  int version_before = 0;  // 0 = nothing applied
  int version_after = 0;
  std::vector<int> versions;  // applied (up) or reverted (down), in the order run
};

struct MigrationInfo {
  int version = 0;
  std::string name;
  bool applied = false;
  std::optional<Timestamp> applied_at;
};

// Applies or reverts migrations. Blocks while another migrator of the same schema runs.
// Reverting version 1 also drops <schema>.delta_migration, and the schema itself when
// nothing else is left in it (never "public").
// Throws ConfigError for bad options (before touching the database), SchemaError when
// the database is newer than this build or its migration history has gaps, and
// DatabaseError for database failures (the whole run is rolled back).
// Thread-safe: concurrent calls (from any process) serialise on an advisory lock.
MigrateResult migrate(pg::Pool& pool, const MigrateOptions& options = {});

// Every migration this build knows, plus any applied version it does not know (with
// an empty name), in version order. Read-only. Throws ConfigError for a bad schema name,
// DatabaseError for database failures.
std::vector<MigrationInfo> migration_status(pg::Pool& pool, std::string_view schema = "delta");

// The newest schema version this build knows.
int latest_schema_version() noexcept;

// The version the database is at (0 when delta's schema or migration table is missing).
// Throws ConfigError for a bad schema name, DatabaseError for database failures.
int current_schema_version(pg::Pool& pool, std::string_view schema = "delta");

// Throws SchemaError unless the database is at exactly latest_schema_version(): the
// message says whether to run `delta migrate up` or to upgrade delta. ConfigError and
// DatabaseError as for current_schema_version.
void check_schema(pg::Pool& pool, std::string_view schema = "delta");

}  // namespace delta

DELTA_PUBLIC_END
